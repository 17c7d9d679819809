// lablb's Direct Routing data plane in the kernel: the connection table lablb's forwarder
// fills, read at tc ingress. Two programs share one classification:
//
//   dr_tap  a socket filter on the forwarder's packet socket: only what the kernel will
//           not forward reaches Python (a new connection, a SYN, FIN or RST, a packet of
//           a service this node does not master);
//   dr_tc   tc ingress (clsact, direct action): a packet of a connection in `conns`, of a
//           service this node masters, leaves again with the real server's MAC (egress
//           of the interface it came in on), as IPVS's DR does; all else goes on up the
//           stack, where lablb's nftables table drops it.
//
// Packet taps run before tc ingress, so a packet the filter gave to Python is marked in
// `tapped` (per CPU: the tap and tc of one packet run on one CPU, one after the other);
// tc never forwards it again, even if Python added its connection in between.
//
// Maps (keys and values in network byte order where they are addresses or ports):
//   services  {vip, port, proto} -> {forwarding}   written by Python on address changes
//   conns     {client, vip, cport, vport, proto} -> {real server MAC, own MAC, ifindex,
//             last packet ns, packets, bytes}      written by Python, counted here
//
// Built by `./dev setup` (clang -O2 -target bpf); lablb.ipvs.kernel loads it.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

enum verdict { NOT_OURS = 0, TO_PYTHON = 1, TO_KERNEL = 2 };

struct service_key {
	__u32 vip;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct service_val {
	__u32 forwarding;
};

struct flow_key {
	__u32 client;
	__u32 vip;
	__u16 cport;
	__u16 vport;
	__u8 proto;
	__u8 pad[3];
};

struct conn_val {
	__u8 dmac[6];
	__u8 smac[6];
	__u32 ifindex;
	__u64 last_ns;
	__u64 packets;
	__u64 bytes;
};

struct signature {  // one packet, as well as a tap and a tc run can tell it
	struct flow_key flow;
	__u32 seq;
	__u16 id;
	__u16 len;
};

struct tapped_val {
	struct signature sig;
	__u32 verdict;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct service_key);
	__type(value, struct service_val);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct flow_key);
	__type(value, struct conn_val);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tapped_val);
} tapped SEC(".maps");

// IPv4 TCP or UDP to a service in `services`, first fragment: its signature, TCP flags
// and service; 0 if it is none of lablb's.
static __always_inline int read_packet(struct __sk_buff *skb, struct signature *sig,
				       __u8 *flags, struct service_val **svc)
{
	__u16 proto_eth;
	__u8 ip[20];
	__u8 l4[14];

	if (bpf_skb_load_bytes(skb, 12, &proto_eth, 2) < 0 || proto_eth != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, ip, 20) < 0 || (ip[0] >> 4) != 4)
		return 0;
	__u32 ihl = (ip[0] & 0x0f) * 4;
	__u8 proto = ip[9];
	if (ihl < 20 || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return 0;
	if (((ip[6] << 8) | ip[7]) & 0x1fff)  // a later fragment: no ports
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + ihl, l4, proto == IPPROTO_TCP ? 14 : 8) < 0)
		return 0;
	__builtin_memset(sig, 0, sizeof(*sig));
	__builtin_memcpy(&sig->flow.client, &ip[12], 4);
	__builtin_memcpy(&sig->flow.vip, &ip[16], 4);
	__builtin_memcpy(&sig->flow.cport, &l4[0], 2);
	__builtin_memcpy(&sig->flow.vport, &l4[2], 2);
	sig->flow.proto = proto;
	__builtin_memcpy(&sig->id, &ip[4], 2);
	__builtin_memcpy(&sig->len, &ip[2], 2);
	*flags = 0;
	if (proto == IPPROTO_TCP) {
		__builtin_memcpy(&sig->seq, &l4[4], 4);
		*flags = l4[13];
	}
	struct service_key sk = {.vip = sig->flow.vip, .port = sig->flow.vport, .proto = proto};
	*svc = bpf_map_lookup_elem(&services, &sk);
	return *svc != 0;
}

static __always_inline enum verdict classify(struct __sk_buff *skb, struct signature *sig,
					     struct conn_val **conn)
{
	struct service_val *svc;
	__u8 flags;

	if (!read_packet(skb, sig, &flags, &svc))
		return NOT_OURS;
	if (!svc->forwarding || (flags & (TCP_SYN | TCP_FIN | TCP_RST)))
		return TO_PYTHON;
	*conn = bpf_map_lookup_elem(&conns, &sig->flow);
	return *conn ? TO_KERNEL : TO_PYTHON;
}

static __always_inline int same(const struct signature *a, const struct signature *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
}

_Static_assert(sizeof(struct signature) == 24, "a signature is three words");

SEC("socket")
int dr_tap(struct __sk_buff *skb)
{
	struct signature sig;
	struct conn_val *conn = 0;
	__u32 zero = 0;
	enum verdict v = classify(skb, &sig, &conn);

	if (v == NOT_OURS)
		return 0;
	struct tapped_val *t = bpf_map_lookup_elem(&tapped, &zero);
	if (t) {
		t->sig = sig;
		t->verdict = v;
	}
	return v == TO_PYTHON ? skb->len : 0;
}

SEC("tc")
int dr_tc(struct __sk_buff *skb)
{
	struct signature sig;
	struct conn_val *conn = 0;
	__u32 zero = 0;
	enum verdict v = classify(skb, &sig, &conn);

	if (v != TO_KERNEL || !conn)
		return TC_ACT_OK;
	struct tapped_val *t = bpf_map_lookup_elem(&tapped, &zero);
	if (t && t->verdict == TO_PYTHON && same(&t->sig, &sig))
		return TC_ACT_OK;  // Python has this one already
	__u8 macs[12];
	__builtin_memcpy(macs, conn->dmac, 12);
	if (bpf_skb_store_bytes(skb, 0, macs, 12, 0) < 0)
		return TC_ACT_OK;
	conn->last_ns = bpf_ktime_get_ns();
	__sync_fetch_and_add(&conn->packets, 1);
	__sync_fetch_and_add(&conn->bytes, bpf_ntohs(sig.len));
	return bpf_redirect(conn->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
