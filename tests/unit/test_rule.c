/* Rule matching: families, types, roles, ports, CIDRs and program globs. */
#include "rule.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

static struct st_sock tcp_client(const char *peer, uint16_t port)
{
	struct st_sock s = {.family = ST_FAM_INET, .type = ST_TYPE_STREAM,
			    .role = ST_ROLE_CLIENT, .prog = "curl", .progpath = "/usr/bin/curl"};
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
	cr_assert_eq(inet_pton(AF_INET, peer, &in.sin_addr), 1);
	cr_assert_eq(sock_set_peer(&s, (struct sockaddr *)&in, sizeof(in)), 0);
	return s;
}

static struct st_sock tcp6_client(const char *peer, uint16_t port)
{
	struct st_sock s = {.family = ST_FAM_INET6, .type = ST_TYPE_STREAM,
			    .role = ST_ROLE_CLIENT, .prog = "curl", .progpath = "/usr/bin/curl"};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	cr_assert_eq(inet_pton(AF_INET6, peer, &in6.sin6_addr), 1);
	cr_assert_eq(sock_set_peer(&s, (struct sockaddr *)&in6, sizeof(in6)), 0);
	return s;
}

static struct st_rule with_peer(const char *cidr)
{
	struct st_rule r = {0};
	cr_assert_eq(cidr_parse(cidr, &r.peer), 0, "%s should parse", cidr);
	return r;
}

Test(rule, empty_rule_matches_everything)
{
	struct st_rule r = {0};
	struct st_sock s = tcp_client("192.0.2.1", 80);
	cr_assert(rule_match(&r, &s));
}

Test(rule, family_and_type_masks)
{
	struct st_rule r = {0};
	struct st_sock s = tcp_client("192.0.2.1", 80);
	cr_assert_eq(family_parse("unix, inet6", &r.families), 0);
	cr_assert_not(rule_match(&r, &s), "inet is not in unix,inet6");
	cr_assert_eq(family_parse("inet", &r.families), 0);
	cr_assert(rule_match(&r, &s));
	cr_assert_eq(type_parse("dgram", &r.types), 0);
	cr_assert_not(rule_match(&r, &s));
	cr_assert_eq(type_parse("dgram,stream", &r.types), 0);
	cr_assert(rule_match(&r, &s));
	cr_assert_eq(family_parse("ipx", &r.families), -1);
	cr_assert_eq(family_parse("", &r.families), -1);
	cr_assert_eq(type_parse("raw", &r.types), -1);
}

Test(rule, roles)
{
	struct st_rule r = {0};
	struct st_sock s = tcp_client("192.0.2.1", 80);
	cr_assert_eq(role_parse("server", &r.role), 0);
	cr_assert_not(rule_match(&r, &s));
	cr_assert_eq(role_parse("client", &r.role), 0);
	cr_assert(rule_match(&r, &s));
	cr_assert_eq(role_parse("any", &r.role), 0);
	s.role = ST_ROLE_SERVER;
	cr_assert(rule_match(&r, &s));
	cr_assert_eq(role_parse("listener", &r.role), -1);
}

Test(rule, ipv4_cidr)
{
	struct st_rule r = with_peer("10.0.0.0/8");
	struct st_sock in = tcp_client("10.200.3.4", 80), out = tcp_client("11.0.0.1", 80);
	cr_assert(rule_match(&r, &in));
	cr_assert_not(rule_match(&r, &out));
	r = with_peer("192.168.1.128/25");
	struct st_sock hi = tcp_client("192.168.1.200", 80), lo = tcp_client("192.168.1.127", 80);
	cr_assert(rule_match(&r, &hi));
	cr_assert_not(rule_match(&r, &lo), "a prefix that is not a byte boundary");
}

Test(rule, ipv4_cidr_matches_v4_mapped_ipv6_peer)
{
	struct st_rule r = with_peer("127.0.0.0/8");
	struct st_sock mapped = tcp6_client("::ffff:127.0.0.1", 80);
	struct st_sock other = tcp6_client("::1", 80);
	cr_assert(rule_match(&r, &mapped));
	cr_assert_not(rule_match(&r, &other));
}

Test(rule, ipv6_cidr_and_single_address)
{
	struct st_rule r = with_peer("fd00::/8");
	struct st_sock a = tcp6_client("fd12:3456::1", 443), b = tcp6_client("fe80::1", 443);
	cr_assert(rule_match(&r, &a));
	cr_assert_not(rule_match(&r, &b));
	r = with_peer("192.0.2.7");
	struct st_sock same = tcp_client("192.0.2.7", 1), next = tcp_client("192.0.2.8", 1);
	cr_assert(rule_match(&r, &same), "no prefix means the whole address");
	cr_assert_not(rule_match(&r, &next));
}

Test(rule, bad_cidrs)
{
	struct st_cidr c;
	const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0/8", "host.example", "10.0.0.0/", "/8",
			     "10.0.0.0/8x", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cidr_parse(bad[i], &c), -1, "\"%s\" should be refused", bad[i]);
}

Test(rule, peer_rule_does_not_match_without_a_peer)
{
	struct st_rule r = with_peer("0.0.0.0/0");
	struct st_sock s = tcp_client("10.0.0.1", 80);
	s.have_peer = 0; /* a listener */
	cr_assert_not(rule_match(&r, &s));
}

Test(rule, ports_and_ranges)
{
	struct st_rule r = {0};
	cr_assert_eq(ports_parse("80, 443,8000-8100", &r.peer_port), 0);
	cr_assert_eq(r.peer_port.n, 3);
	uint16_t yes[] = {80, 443, 8000, 8050, 8100}, no[] = {81, 442, 7999, 8101};
	for (size_t i = 0; i < 5; i++) {
		struct st_sock s = tcp_client("192.0.2.1", yes[i]);
		cr_assert(rule_match(&r, &s), "port %u", yes[i]);
	}
	for (size_t i = 0; i < 4; i++) {
		struct st_sock s = tcp_client("192.0.2.1", no[i]);
		cr_assert_not(rule_match(&r, &s), "port %u", no[i]);
	}
}

Test(rule, local_port_needs_a_local_port)
{
	struct st_rule r = {0};
	cr_assert_eq(ports_parse("8080", &r.local_port), 0);
	struct st_sock s = tcp_client("192.0.2.1", 80);
	cr_assert_not(rule_match(&r, &s), "unbound client: no local port yet");
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
	cr_assert_eq(sock_set_local(&s, (struct sockaddr *)&in, sizeof(in)), 0);
	cr_assert(rule_match(&r, &s));
	cr_assert(rule_needs_local(&r));
	cr_assert_not(rule_needs_peer(&r));
}

Test(rule, bad_ports)
{
	struct st_portset ps;
	const char *bad[] = {"0", "65536", "90-80", "80-", "-80", "http", "1,2,3,4,5,6,7,8,9", "",
			     "80,,"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ports_parse(bad[i], &ps), -1, "\"%s\" should be refused", bad[i]);
}

Test(rule, program_glob_short_name_and_path)
{
	struct st_rule r = {0};
	struct st_sock s = tcp_client("192.0.2.1", 80);
	strcpy(r.program, "cu*");
	cr_assert(rule_match(&r, &s));
	strcpy(r.program, "wget");
	cr_assert_not(rule_match(&r, &s));
	strcpy(r.program, "/usr/bin/*");
	cr_assert(rule_match(&r, &s), "a glob with a slash matches the path");
	strcpy(r.program, "/opt/*");
	cr_assert_not(rule_match(&r, &s));
}

Test(rule, program_glob_cached_at_load)
{
	struct st_rule r = {0};
	struct st_sock s = tcp_client("192.0.2.1", 80);
	strcpy(r.program, "qemu-*");
	rule_cache_program(&r, "qemu-nbd", "/usr/bin/qemu-nbd");
	cr_assert(rule_match(&r, &s), "the cached answer wins over the socket's own name");
	rule_cache_program(&r, "curl", "/usr/bin/curl");
	s.prog = "qemu-img";
	cr_assert_not(rule_match(&r, &s));
}

Test(rule, unix_socket_never_matches_port_or_peer_rules)
{
	struct st_rule r = {0};
	struct st_sock s = {.family = ST_FAM_UNIX, .type = ST_TYPE_STREAM, .role = ST_ROLE_CLIENT};
	cr_assert_eq(ports_parse("1-65535", &r.peer_port), 0);
	cr_assert_not(rule_match(&r, &s));
}
