"""The seed tutorial's network: two VRRP balancers in front of two MP4 web nodes.

The addresses are the tutorial's (lb01 172.30.0.20, lb02 172.30.0.21, web nodes
172.30.0.23 and .24, gateway 172.30.0.1, service VIP 172.16.55.100). The clients sit on
a subnet of their own behind r1 (TEST-NET-2, which no real network uses), so every
request crosses a router the way it would from the Internet. mx01 is the lab's SMTP
sink: alert mail goes there and nowhere else.

Every host names its interfaces eth0, eth1... inside its namespace, so the seed's
``interface eth0`` runs unmodified.
"""

from __future__ import annotations

from typing import Any

from mininet.topo import Topo

SERVICE_VIP = "172.16.55.100"
ARP_FOR_DR = {  # real servers hold the VIP on lo but must not answer ARP for it
    "net.ipv4.conf.all.arp_ignore": 1,
    "net.ipv4.conf.all.arp_announce": 2,
    "net.ipv4.conf.eth0.arp_ignore": 1,
    "net.ipv4.conf.eth0.arp_announce": 2,
}


class SeedTopo(Topo):  # type: ignore[misc]  # Mininet has no type hints
    r"""The seed tutorial's network.

    ::

           cl01 .11     cl02 .12          clients 198.51.100.0/24
               \        /
                [  s2  ]
                   | eth1 198.51.100.1
                  r1                      router (the seed's gateway); routes
                   | eth0 172.30.0.1      172.16.55.100 onto the server LAN
                [  s1  ]                  server LAN 172.30.0.0/24, 1 Gbit/s (htb)
          ______/ /   \ \______
         /       /     \       \        \
      lb01     lb02    web01    web02    mx01
      .20      .21     .23      .24      .25
      VRRP: 172.30.0.22 and the service VIP 172.16.55.100 (corrected configs)
      web01/web02: 172.16.55.100/32 on lo, arp_ignore=1, arp_announce=2 (LVS-DR)
    """

    #: hosts that run a balancer, each with ``configs/<set>/<host>.conf``
    balancers = ("lb01", "lb02")
    #: the config set a lab uses unless told otherwise
    default_configs = "configs/seed"
    #: the web root the web nodes serve (health-check page and videos)
    docroot = "www"

    def build(self, bw: float = 1000, **_opts: Any) -> None:
        link = {"bw": bw}
        lan = self.addSwitch("s1")
        clients = self.addSwitch("s2")

        r1 = self.addHost(
            "r1",
            ip=None,
            role="router",
            sysctls={"net.ipv4.ip_forward": 1},
            routes=[f"{SERVICE_VIP}/32 dev eth0"],
        )
        self.addLink(r1, lan, intfName1="eth0", params1={"ip": "172.30.0.1/24"}, **link)
        self.addLink(r1, clients, intfName1="eth1", params1={"ip": "198.51.100.1/24"}, **link)

        for name, last in (("lb01", 20), ("lb02", 21)):
            host = self.addHost(name, ip=None, role="balancer", defaultRoute="via 172.30.0.1")
            self.addLink(host, lan, intfName1="eth0", params1={"ip": f"172.30.0.{last}/24"}, **link)

        for name, last in (("web01", 23), ("web02", 24)):
            host = self.addHost(
                name,
                ip=None,
                role="web",
                defaultRoute="via 172.30.0.1",
                lo_addresses=[f"{SERVICE_VIP}/32"],
                sysctls=ARP_FOR_DR,
            )
            self.addLink(host, lan, intfName1="eth0", params1={"ip": f"172.30.0.{last}/24"}, **link)

        mx = self.addHost("mx01", ip=None, role="mail", defaultRoute="via 172.30.0.1")
        self.addLink(mx, lan, intfName1="eth0", params1={"ip": "172.30.0.25/24"}, **link)

        for name, last in (("cl01", 11), ("cl02", 12)):
            host = self.addHost(name, ip=None, role="client", defaultRoute="via 198.51.100.1")
            self.addLink(
                host, clients, intfName1="eth0", params1={"ip": f"198.51.100.{last}/24"}, **link
            )


TOPOS = {"seed": SeedTopo}
