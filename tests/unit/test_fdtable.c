/* The fd table and what a descriptor is, with the kernel faked: the two
 * questions fdtable.c asks it are answered here from a small table, so a
 * test can reuse a descriptor number for another socket at will.
 * Criterion runs each test in a process of its own, so each starts with an
 * empty table. */
#include "fdtable.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

struct fake_fd {
	int fd;
	uint64_t ino; /* 0: not a socket */
	int domain, type;
};

static struct fake_fd kernel[8];
static int kind_asked;

/* The kernel now says fd is a socket of this kind with this inode. */
static void kernel_says(int fd, uint64_t ino, int domain, int type)
{
	for (size_t i = 0; i < sizeof(kernel) / sizeof(kernel[0]); i++)
		if (kernel[i].fd == fd || kernel[i].ino == 0) {
			kernel[i] = (struct fake_fd){fd, ino, domain, type};
			return;
		}
	cr_assert_fail("the fake kernel is full");
}

static const struct fake_fd *kernel_find(int fd)
{
	for (size_t i = 0; i < sizeof(kernel) / sizeof(kernel[0]); i++)
		if (kernel[i].fd == fd && kernel[i].ino)
			return &kernel[i];
	return NULL;
}

int fd_kernel_socket(int fd, uint64_t *ino)
{
	const struct fake_fd *k = kernel_find(fd);
	if (!k)
		return 0;
	*ino = k->ino;
	return 1;
}

void fd_kernel_kind(int fd, int *domain, int *type)
{
	kind_asked++;
	const struct fake_fd *k = kernel_find(fd);
	cr_assert(k, "asked the kind of fd %d, which the kernel does not know as a socket", fd);
	if (k->domain)
		*domain = k->domain;
	if (k->type)
		*type = k->type;
}

/* The table */

Test(fdtable, nothing_before_it_is_made)
{
	cr_assert_null(fd_state_get(3));
	cr_assert_eq(fd_state_limit(), 0);
}

Test(fdtable, make_gives_a_zeroed_entry_that_get_then_finds)
{
	struct fd_state *e = fd_state_make(7);
	cr_assert_not_null(e);
	struct fd_state zero;
	memset(&zero, 0, sizeof(zero));
	cr_assert(!memcmp(e, &zero, sizeof(zero)), "a fresh entry is not zeroed");
	cr_assert_eq(fd_state_get(7), e);
	cr_assert_eq(fd_state_make(7), e, "making it again gave another entry");
	cr_assert_neq(fd_state_get(8), e);
}

Test(fdtable, entries_are_kept)
{
	fd_state_make(7)->merge = 777;
	fd_state_make(8)->merge = 888;
	cr_assert_eq(fd_state_get(7)->merge, 777);
	cr_assert_eq(fd_state_get(8)->merge, 888);
}

Test(fdtable, negative_and_past_the_table_are_not_tracked)
{
	cr_assert_null(fd_state_make(-1));
	cr_assert_null(fd_state_get(-1));
	cr_assert_null(fd_state_make(FD_TABLE_MAX));
	cr_assert_null(fd_state_get(FD_TABLE_MAX));
	cr_assert_null(fd_state_make(FD_TABLE_MAX + 4096));
	cr_assert_eq(fd_state_limit(), 0, "a refused fd made a chunk");
}

Test(fdtable, the_last_fd_of_the_table_is_tracked)
{
	struct fd_state *e = fd_state_make(FD_TABLE_MAX - 1);
	cr_assert_not_null(e);
	e->merge = 1;
	cr_assert_eq(fd_state_get(FD_TABLE_MAX - 1), e);
	cr_assert_eq(fd_state_limit(), FD_TABLE_MAX);
	cr_assert_null(fd_state_get(0), "the last chunk made the first one");
}

Test(fdtable, limit_covers_every_made_fd)
{
	fd_state_make(5);
	int low = fd_state_limit();
	cr_assert_gt(low, 5);
	cr_assert_leq(low, FD_TABLE_MAX);
	cr_assert_null(fd_state_get(low), "limit is not past the last chunk");

	fd_state_make(200000);
	int high = fd_state_limit();
	cr_assert_gt(high, 200000);
	cr_assert_null(fd_state_get(high));
	cr_assert_not_null(fd_state_get(5), "a new chunk lost an old one");
}

Test(fdtable, forget_clears_the_entry)
{
	struct fd_state *e = fd_state_make(9);
	e->flags = FD_KNOWN | FD_DONE;
	e->ino = 99;
	e->merge = 4096;
	fd_state_make(10)->merge = 10;
	fd_state_forget(9);
	cr_assert_eq(e->flags, 0);
	cr_assert_eq(e->ino, 0);
	cr_assert_eq(e->merge, 0);
	cr_assert_eq(fd_state_get(10)->merge, 10, "forget cleared a neighbour");
	fd_state_forget(-1);
	fd_state_forget(FD_TABLE_MAX);
	fd_state_forget(500000); /* no chunk there */
	cr_assert_null(fd_state_get(500000), "forget made a chunk");
}

Test(fdtable, forget_range_clears_only_the_range_across_chunks)
{
	/* Chunks hold 4096 entries: the range ends in another one. */
	int fds[] = {99, 100, 4095, 4096, 5000, 5001};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		fd_state_make(fds[i])->merge = (uint32_t)fds[i];
	fd_state_forget_range(100, 5000);
	cr_assert_eq(fd_state_get(99)->merge, 99);
	cr_assert_eq(fd_state_get(100)->merge, 0);
	cr_assert_eq(fd_state_get(4095)->merge, 0);
	cr_assert_eq(fd_state_get(4096)->merge, 0);
	cr_assert_eq(fd_state_get(5000)->merge, 0);
	cr_assert_eq(fd_state_get(5001)->merge, 5001);
}

Test(fdtable, forget_range_to_the_end_and_past_it)
{
	fd_state_make(3)->merge = 3;
	fd_state_make(FD_TABLE_MAX - 1)->merge = 1;
	/* close_range(4, ~0U): hi far past the table. */
	fd_state_forget_range(4, ~0u);
	cr_assert_eq(fd_state_get(3)->merge, 3);
	cr_assert_eq(fd_state_get(FD_TABLE_MAX - 1)->merge, 0);
	/* Chunks that were never made stay unmade. */
	cr_assert_null(fd_state_get(300000));

	fd_state_make(FD_TABLE_MAX - 1)->merge = 1;
	fd_state_forget_range(FD_TABLE_MAX, ~0u);
	cr_assert_eq(fd_state_get(FD_TABLE_MAX - 1)->merge, 1, "a range past the table cleared");
}

Test(fdtable, copy_takes_what_the_program_set_but_not_the_count)
{
	struct fd_state *s = fd_state_make(4);
	s->flags = FD_KNOWN | FD_DONE | FD_USER_SNDBUF | FD_TCP_COUNT;
	s->family = ST_FAM_INET;
	s->type = ST_TYPE_STREAM;
	s->ino = 4444;
	s->merge = 2048;
	fd_state_copy(12, 4);
	struct fd_state *d = fd_state_get(12);
	cr_assert_not_null(d);
	cr_assert_eq(d->flags, FD_KNOWN | FD_DONE | FD_USER_SNDBUF);
	cr_assert_eq(d->family, ST_FAM_INET);
	cr_assert_eq(d->type, ST_TYPE_STREAM);
	cr_assert_eq(d->ino, 4444);
	cr_assert_eq(d->merge, 2048);
	cr_assert(s->flags & FD_TCP_COUNT, "the original lost its count");
}

Test(fdtable, copy_of_an_unknown_fd_forgets_the_target)
{
	struct fd_state *d = fd_state_make(12);
	d->flags = FD_KNOWN | FD_DONE;
	d->merge = 2048;
	fd_state_make(4)->merge = 5; /* made, but not FD_KNOWN */
	fd_state_copy(12, 4);
	cr_assert_eq(d->flags, 0);
	cr_assert_eq(d->merge, 0);

	d->flags = FD_KNOWN;
	int limit = fd_state_limit();
	fd_state_copy(12, 300000); /* no entry at all */
	cr_assert_eq(d->flags, 0);
	cr_assert_eq(fd_state_limit(), limit, "copying from nowhere made a chunk");
}

Test(fdtable, copy_past_the_table_is_ignored)
{
	sock_note_created(4, AF_INET, SOCK_STREAM);
	fd_state_copy(FD_TABLE_MAX, 4);
	fd_state_copy(-1, 4);
	fd_state_copy(4, FD_TABLE_MAX);
	cr_assert_eq(fd_state_get(4)->flags, 0, "a source past the table did not forget the target");
}

/* Identity */

Test(fd_identity, families)
{
	cr_assert_eq(fam_bit(AF_UNIX), ST_FAM_UNIX);
	cr_assert_eq(fam_bit(AF_INET), ST_FAM_INET);
	cr_assert_eq(fam_bit(AF_INET6), ST_FAM_INET6);
	cr_assert_eq(fam_bit(AF_UNSPEC), 0);
	cr_assert_eq(fam_bit(AF_NETLINK), 0);
	cr_assert_eq(fam_bit(-1), 0);
}

Test(fd_identity, types_ignore_socket_flags)
{
	cr_assert_eq(type_bit(SOCK_STREAM), ST_TYPE_STREAM);
	cr_assert_eq(type_bit(SOCK_DGRAM), ST_TYPE_DGRAM);
	cr_assert_eq(type_bit(SOCK_SEQPACKET), ST_TYPE_SEQPACKET);
	cr_assert_eq(type_bit(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), ST_TYPE_STREAM);
	cr_assert_eq(type_bit(SOCK_DGRAM | SOCK_CLOEXEC), ST_TYPE_DGRAM);
	cr_assert_eq(type_bit(SOCK_RAW), 0);
	cr_assert_eq(type_bit(SOCK_RAW | SOCK_NONBLOCK), 0);
}

Test(fd_identity, note_created_starts_the_entry_afresh)
{
	struct fd_state *e = fd_state_make(6);
	e->flags = FD_DONE | FD_TCP_COUNT | FD_USER_NODELAY;
	e->ino = 66;
	e->merge = 4096;
	e->cork_since = 1;
	sock_note_created(6, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK);
	cr_assert_eq(e->flags, FD_KNOWN);
	cr_assert_eq(e->family, ST_FAM_INET6);
	cr_assert_eq(e->type, ST_TYPE_STREAM);
	cr_assert_eq(e->ino, 0, "the old socket's inode was kept");
	cr_assert_eq(e->merge, 0);
	cr_assert_eq(e->cork_since, 0);
	cr_assert(fd_state_is_tcp(e));
}

Test(fd_identity, only_inet_streams_are_tcp)
{
	sock_note_created(3, AF_INET, SOCK_STREAM);
	sock_note_created(4, AF_UNIX, SOCK_STREAM);
	sock_note_created(5, AF_INET, SOCK_DGRAM);
	sock_note_created(6, AF_NETLINK, SOCK_RAW);
	cr_assert(fd_state_is_tcp(fd_state_get(3)));
	cr_assert_not(fd_state_is_tcp(fd_state_get(4)));
	cr_assert_not(fd_state_is_tcp(fd_state_get(5)));
	struct fd_state *other = fd_state_get(6);
	cr_assert_eq(other->flags, FD_KNOWN, "a socket of no kind of ours is still known");
	cr_assert_eq(other->family, 0);
	cr_assert_eq(other->type, 0);
}

Test(fd_identity, note_created_past_the_table_is_ignored)
{
	sock_note_created(FD_TABLE_MAX, AF_INET, SOCK_STREAM);
	sock_note_created(-1, AF_INET, SOCK_STREAM);
	cr_assert_eq(fd_state_limit(), 0);
}

Test(fd_identity, an_entry_learns_its_inode_once)
{
	sock_note_created(3, AF_INET, SOCK_STREAM);
	struct fd_state *e = fd_state_get(3);
	cr_assert(fd_state_is(e, 42));
	cr_assert_eq(e->ino, 42);
	cr_assert(fd_state_is(e, 42));
	cr_assert_not(fd_state_is(e, 43), "a new inode was taken for the same socket");
	cr_assert_eq(e->ino, 42);
}

Test(fd_identity, an_unknown_entry_names_nothing)
{
	struct fd_state *e = fd_state_make(3);
	e->family = ST_FAM_INET; /* but not FD_KNOWN */
	cr_assert_not(fd_state_is(e, 42));
	cr_assert_eq(e->ino, 0, "an unknown entry learnt an inode");
}

/* Validation */

Test(fd_validate, not_a_socket)
{
	cr_assert_null(sock_validate(3));
	cr_assert_null(fd_state_get(3), "an entry was made for a file that is no socket");
	cr_assert_eq(kind_asked, 0);
}

Test(fd_validate, not_a_socket_any_more)
{
	sock_note_created(3, AF_INET, SOCK_STREAM);
	cr_assert_null(sock_validate(3)); /* closed behind our back, or now a file */
}

Test(fd_validate, a_socket_seen_created_learns_its_inode_without_asking)
{
	sock_note_created(3, AF_INET, SOCK_STREAM);
	kernel_says(3, 100, AF_INET, SOCK_STREAM);
	struct fd_state *e = sock_validate(3);
	cr_assert_eq(e, fd_state_get(3));
	cr_assert_eq(e->ino, 100);
	cr_assert_eq(e->family, ST_FAM_INET);
	cr_assert_eq(kind_asked, 0, "the kernel was asked what socket() had said");
}

Test(fd_validate, the_same_socket_keeps_its_state)
{
	sock_note_created(3, AF_INET, SOCK_STREAM);
	kernel_says(3, 100, AF_INET, SOCK_STREAM);
	struct fd_state *e = sock_validate(3);
	e->flags |= FD_DONE | FD_USER_SNDBUF;
	e->merge = 4096;
	cr_assert_eq(sock_validate(3), e);
	cr_assert_eq(e->flags, FD_KNOWN | FD_DONE | FD_USER_SNDBUF);
	cr_assert_eq(e->merge, 4096);
	cr_assert_eq(kind_asked, 0);
}

Test(fd_validate, a_reused_fd_is_refreshed_from_the_kernel)
{
	sock_note_created(3, AF_INET, SOCK_STREAM);
	kernel_says(3, 100, AF_INET, SOCK_STREAM);
	struct fd_state *e = sock_validate(3);
	e->flags |= FD_DONE | FD_TCP_COUNT | FD_USER_NODELAY;
	e->merge = 4096;
	e->owner = 1234;

	/* Closed and made again, as a unix datagram socket, while socktune
	 * was not looking (in a library that calls the kernel directly). */
	kernel_says(3, 200, AF_UNIX, SOCK_DGRAM);
	cr_assert_eq(sock_validate(3), e);
	cr_assert_eq(kind_asked, 1);
	cr_assert_eq(e->flags, FD_KNOWN, "the old socket's flags were kept");
	cr_assert_eq(e->family, ST_FAM_UNIX);
	cr_assert_eq(e->type, ST_TYPE_DGRAM);
	cr_assert_eq(e->ino, 200);
	cr_assert_eq(e->merge, 0);
	cr_assert_eq(e->owner, 0);
	cr_assert(fd_state_is(e, 200));
	cr_assert_not(fd_state_is(e, 100));

	/* Known now: the next check asks no more. */
	cr_assert_eq(sock_validate(3), e);
	cr_assert_eq(kind_asked, 1);
}

Test(fd_validate, a_socket_never_seen_is_learnt_from_the_kernel)
{
	kernel_says(5, 300, AF_INET6, SOCK_STREAM);
	struct fd_state *e = sock_validate(5);
	cr_assert_not_null(e);
	cr_assert_eq(kind_asked, 1);
	cr_assert_eq(e->flags, FD_KNOWN);
	cr_assert_eq(e->family, ST_FAM_INET6);
	cr_assert_eq(e->type, ST_TYPE_STREAM);
	cr_assert_eq(e->ino, 300);
	cr_assert(fd_state_is_tcp(e));
	cr_assert_eq(sock_validate(5), e);
	cr_assert_eq(kind_asked, 1);
}

Test(fd_validate, a_socket_the_kernel_will_not_describe_is_known_as_none_of_ours)
{
	kernel_says(5, 300, 0, 0); /* both getsockopt calls failed */
	struct fd_state *e = sock_validate(5);
	cr_assert_not_null(e);
	cr_assert_eq(e->flags, FD_KNOWN);
	cr_assert_eq(e->family, 0);
	cr_assert_eq(e->type, 0);
	cr_assert_eq(e->ino, 300);
}

Test(fd_validate, past_the_table)
{
	kernel_says(FD_TABLE_MAX, 400, AF_INET, SOCK_STREAM);
	cr_assert_null(sock_validate(FD_TABLE_MAX));
	cr_assert_eq(kind_asked, 0);
}
