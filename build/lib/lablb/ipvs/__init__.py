"""Virtual servers: schedulers, connection table, frames and routes (pure);
forwarder.py is the AF_PACKET edge (Direct Routing, NAT, IPIP tunnels)."""
