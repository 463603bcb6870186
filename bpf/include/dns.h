/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The `dns` argument type: the question of a DNS query a process sends (a struct
 * msghdr, as udp_sendmsg and udpv6_sendmsg take it), parsed in the kernel so that
 * selectors compare the query name like any string.
 *
 * The wire name after its first length byte is read to the start of the slot and
 * turned into the dotted name in place: every later length byte becomes a dot and the
 * terminating zero ends the string, so the name starts the slot and the string
 * comparisons read it as they read a path. struct dns_info sits at the slot's end.
 * The loops are shaped for the verifier: lower-casing first (no state but the index),
 * then one step per label (at most 127), each with one data-dependent variable.
 */
#ifndef __APPLIANCE_DNS_H__
#define __APPLIANCE_DNS_H__

#define DNS_HDR_LEN 12
#define DNS_WIRE_MAX 259 /* the wire name after its first byte (254) and QTYPE, QCLASS */
#define DNS_INFO_AT (SLOT - 16)
#define DNS_LABELS_MAX 127 /* a 255-byte name has at most 127 labels */

#define DNS_PARSED 1	  /* a query's first question: name, type and class read */
#define DNS_TRUNCATED 2	  /* the message ends before the question does */
#define DNS_NOT_QUERY 4	  /* a response, or not an opcode-0 message with one question */
#define DNS_COMPRESSED 8  /* a compression pointer (or a reserved label type) in the name */

struct dns_info {
	u16 tx_id;
	u16 flags;
	u16 qtype;
	u16 qclass;
	u8 status;
	u8 pad[7];
};

/* the slot holds a parsed query: its name can be compared */
static __always_inline int dns_parsed(const char *slot)
{
	return ((const struct dns_info *)(slot + DNS_INFO_AT))->status & DNS_PARSED;
}

static __always_inline u16 dns_be16(const u8 *p)
{
	return ((u16)p[0] << 8) | p[1];
}

static __always_inline void dns_arg(struct pmsg *m, int k, int a, struct msghdr *msg)
{
	u8 *slot = (u8 *)m->slots[k];
	struct dns_info *di = (struct dns_info *)(slot + DNS_INFO_AT);
	u8 hdr[DNS_HDR_LEN + 1];
	const void *base;
	u64 len;
	int user;
	long r;

	__builtin_memset(di, 0, sizeof(*di));
	slot[0] = 0;
	m->lens[a] = 0;
	if (!msg) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	struct iov_iter *it = (struct iov_iter *)((void *)msg + bpf_core_field_offset(struct msghdr, msg_iter));
	if (!iov_iter_segment(it, &base, &len, &user) || len < sizeof(hdr)) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	/* the header and the first label's length */
	r = user ? bpf_probe_read_user(hdr, sizeof(hdr), base) : bpf_probe_read_kernel(hdr, sizeof(hdr), base);
	if (r < 0) {
		m->aflags[a] |= ARG_ERROR;
		return;
	}
	di->tx_id = dns_be16(hdr);
	di->flags = dns_be16(hdr + 2);
	/* a query (QR 0) of opcode QUERY with one question */
	if ((di->flags & 0xF800) != 0 || dns_be16(hdr + 4) != 1) {
		di->status = DNS_NOT_QUERY;
		return;
	}
	u64 n = len - sizeof(hdr);
	if (n > DNS_WIRE_MAX)
		n = DNS_WIRE_MAX;
	base += sizeof(hdr);
	if (n) {
		r = user ? bpf_probe_read_user(slot, n & 511, base) : bpf_probe_read_kernel(slot, n & 511, base);
		if (r < 0) {
			m->aflags[a] |= ARG_ERROR;
			return;
		}
	}
	/* length bytes are at most 63: lower-casing leaves them alone */
	for (u32 i = 0; i < DNS_WIRE_MAX; i++) {
		u8 c = slot[i];
		if (c >= 'A' && c <= 'Z')
			slot[i] = c + ('a' - 'A');
	}
	/* the next length byte: wire offset 1 + first, so slot offset first */
	u32 first = hdr[DNS_HDR_LEN], pos = first, status = DNS_TRUNCATED;
	if (first == 0) {
		status = n >= 4 ? DNS_PARSED : DNS_TRUNCATED; /* the root: QTYPE at slot[0] */
	} else if (first & 0xC0) {
		status = DNS_COMPRESSED;
	} else {
		for (u32 j = 0; j < DNS_LABELS_MAX; j++) {
			if (pos >= n)
				break;
			u8 c = slot[pos & 511];
			if (c == 0) {
				status = pos + 4 < n ? DNS_PARSED : DNS_TRUNCATED;
				break;
			}
			if (c & 0xC0) {
				status = DNS_COMPRESSED;
				break;
			}
			slot[pos & 511] = '.';
			pos += c + 1;
		}
	}
	if (status == DNS_PARSED) {
		u32 q = first ? pos + 1 : 0; /* QTYPE and QCLASS follow the name's zero */
		di->qtype = ((u16)slot[q & 511] << 8) | slot[(q + 1) & 511];
		di->qclass = ((u16)slot[(q + 2) & 511] << 8) | slot[(q + 3) & 511];
		if (!first)
			pos = 0;
		slot[pos & 511] = 0;
		m->lens[a] = pos;
	} else {
		slot[0] = 0;
	}
	di->status = status;
}

#endif
