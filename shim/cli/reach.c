/* reach.c: whether LD_PRELOAD reaches a program, judged from its files
 * before it runs (reach.h).  The program is found as execvp would find it
 * and followed through #! lines to the ELF file the kernel really maps;
 * that file's headers, dynamic section, notes and section names are read
 * here (either ELF class, either byte order), and so are the library's,
 * since whether the loader takes the library depends on both.  The file's
 * mode and the caller's ids decide secure-execution mode.  Nothing is run
 * and nothing is shelled out to: a guess must never cost the program its
 * run, and the command prints it before the exec. */
#include "reach.h"

#include "cli.h"

#include <elf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* NT_GO_BUILDID: the note Go's linker writes, owner "Go". */
#define GO_NOTE_TYPE 4
#define NEEDED_MAX 48

struct elf {
	const unsigned char *p;
	size_t size;
	int cls; /* ELFCLASS32 or ELFCLASS64 */
	int big; /* ELFDATA2MSB */
	unsigned type, machine;
	int has_interp, has_dynamic, pie_flag;
	char interp[256];
	char soname[128];
	int nneeded;
	char needed[NEEDED_MAX][96];
	const char *go; /* what marks it as Go, or NULL */
};

/* An unsigned field of n bytes at off, in the file's byte order; 0 outside
 * the file (every offset comes from the file, so none is trusted). */
static uint64_t rd(const struct elf *e, uint64_t off, size_t n)
{
	if (off > e->size || n > e->size - off)
		return 0;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | e->p[off + (e->big ? i : n - 1 - i)];
	return v;
}

/* Field f of the structure S (Ehdr, Phdr, Shdr, Dyn) at base, whichever
 * the class. */
#define FIELD(e, base, S, f)                                                                     \
	((e)->cls == ELFCLASS64                                                                  \
		 ? rd(e, (base) + offsetof(Elf64_##S, f), sizeof(((Elf64_##S *)0)->f))           \
		 : rd(e, (base) + offsetof(Elf32_##S, f), sizeof(((Elf32_##S *)0)->f)))
#define SIZE(e, S) ((e)->cls == ELFCLASS64 ? sizeof(Elf64_##S) : sizeof(Elf32_##S))

/* The NUL-terminated string at off, copied into out ("" when it runs off
 * the end of the file or of max bytes). */
static void copy_str(const struct elf *e, uint64_t off, uint64_t max, char *out, size_t n)
{
	out[0] = '\0';
	if (off >= e->size)
		return;
	size_t room = e->size - (size_t)off;
	if (max && max < room)
		room = (size_t)max;
	const unsigned char *s = e->p + off;
	const unsigned char *nul = memchr(s, '\0', room);
	if (!nul)
		return;
	snprintf(out, n, "%s", (const char *)s);
}

static uint64_t phdr_at(const struct elf *e, unsigned i)
{
	return FIELD(e, 0, Ehdr, e_phoff) + (uint64_t)i * FIELD(e, 0, Ehdr, e_phentsize);
}

/* The file offset of a virtual address, through the PT_LOAD segments. */
static int vaddr_to_off(const struct elf *e, uint64_t va, uint64_t *off)
{
	unsigned n = (unsigned)FIELD(e, 0, Ehdr, e_phnum);
	for (unsigned i = 0; i < n; i++) {
		uint64_t ph = phdr_at(e, i);
		if (FIELD(e, ph, Phdr, p_type) != PT_LOAD)
			continue;
		uint64_t v = FIELD(e, ph, Phdr, p_vaddr), sz = FIELD(e, ph, Phdr, p_filesz);
		if (va >= v && va - v < sz) {
			*off = FIELD(e, ph, Phdr, p_offset) + (va - v);
			return 0;
		}
	}
	return -1;
}

static void read_dynamic(struct elf *e, uint64_t off, uint64_t size)
{
	uint64_t strtab = 0, strsz = 0, soname = 0, needed[NEEDED_MAX];
	int has_strtab = 0, has_soname = 0, n = 0;
	size_t step = SIZE(e, Dyn);
	for (uint64_t d = off; d + step <= off + size && d + step <= e->size; d += step) {
		uint64_t tag = FIELD(e, d, Dyn, d_tag), val = FIELD(e, d, Dyn, d_un);
		if (tag == DT_NULL)
			break;
		if (tag == DT_NEEDED && n < NEEDED_MAX)
			needed[n++] = val;
		else if (tag == DT_STRTAB)
			strtab = val, has_strtab = 1;
		else if (tag == DT_STRSZ)
			strsz = val;
		else if (tag == DT_SONAME)
			soname = val, has_soname = 1;
		else if (tag == DT_FLAGS_1 && (val & DF_1_PIE))
			e->pie_flag = 1;
	}
	uint64_t stroff;
	if (!has_strtab || vaddr_to_off(e, strtab, &stroff) < 0)
		return;
	for (int i = 0; i < n; i++)
		if (!strsz || needed[i] < strsz)
			copy_str(e, stroff + needed[i], strsz ? strsz - needed[i] : 0,
				 e->needed[e->nneeded++], sizeof(e->needed[0]));
	if (has_soname && (!strsz || soname < strsz))
		copy_str(e, stroff + soname, 0, e->soname, sizeof(e->soname));
}

/* Go's build ID note (owner "Go", type 4), in a PT_NOTE segment: it is
 * there even when the section headers have been stripped away. */
static int has_go_note(const struct elf *e, uint64_t off, uint64_t size, uint64_t align)
{
	uint64_t a = align == 8 ? 8 : 4, end = off + size;
	while (off + 12 <= end && off + 12 <= e->size) {
		uint64_t namesz = rd(e, off, 4), descsz = rd(e, off + 4, 4), type = rd(e, off + 8, 4);
		uint64_t name = off + 12;
		if (namesz == 3 && type == GO_NOTE_TYPE && name + 3 <= e->size &&
		    memcmp(e->p + name, "Go", 3) == 0)
			return 1;
		off = name + ((namesz + a - 1) & ~(a - 1)) + ((descsz + a - 1) & ~(a - 1));
	}
	return 0;
}

static void read_sections(struct elf *e)
{
	uint64_t shoff = FIELD(e, 0, Ehdr, e_shoff), ent = FIELD(e, 0, Ehdr, e_shentsize);
	unsigned n = (unsigned)FIELD(e, 0, Ehdr, e_shnum), str = (unsigned)FIELD(e, 0, Ehdr, e_shstrndx);
	if (!shoff || ent < SIZE(e, Shdr) || str >= n)
		return;
	uint64_t names = FIELD(e, shoff + str * ent, Shdr, sh_offset);
	uint64_t names_size = FIELD(e, shoff + str * ent, Shdr, sh_size);
	for (unsigned i = 0; i < n && !e->go; i++) {
		uint64_t name = FIELD(e, shoff + i * ent, Shdr, sh_name);
		char s[32];
		if (name >= names_size)
			continue;
		copy_str(e, names + name, names_size - name, s, sizeof(s));
		if (!strcmp(s, ".go.buildinfo"))
			e->go = "its section .go.buildinfo";
		else if (!strcmp(s, ".note.go.buildid"))
			e->go = "its Go build ID note";
	}
}

/* Maps and reads PATH.  Returns -1 with why set when it is not an ELF
 * file this can read. */
static int elf_open(struct elf *e, const char *path, char *why, size_t n)
{
	memset(e, 0, sizeof(*e));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, n, "cannot read it (%m)");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size < EI_NIDENT) {
		close(fd);
		snprintf(why, n, "too short to be an ELF file");
		return -1;
	}
	e->size = (size_t)st.st_size;
	void *m = mmap(NULL, e->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(why, n, "cannot map it (%m)");
		return -1;
	}
	e->p = m;
	if (memcmp(e->p, ELFMAG, SELFMAG) != 0 ||
	    (e->p[EI_CLASS] != ELFCLASS32 && e->p[EI_CLASS] != ELFCLASS64) ||
	    (e->p[EI_DATA] != ELFDATA2LSB && e->p[EI_DATA] != ELFDATA2MSB)) {
		snprintf(why, n, "not an ELF file");
		return -1;
	}
	e->cls = e->p[EI_CLASS];
	e->big = e->p[EI_DATA] == ELFDATA2MSB;
	e->type = (unsigned)FIELD(e, 0, Ehdr, e_type);
	e->machine = (unsigned)FIELD(e, 0, Ehdr, e_machine);
	unsigned phnum = (unsigned)FIELD(e, 0, Ehdr, e_phnum);
	uint64_t phoff = FIELD(e, 0, Ehdr, e_phoff), phent = FIELD(e, 0, Ehdr, e_phentsize);
	/* A cut-off file would read as one without PT_INTERP: static, wrongly. */
	if (phent < SIZE(e, Phdr) || phoff > e->size || phnum * phent > e->size - phoff) {
		snprintf(why, n, "its program headers are not all in the file: truncated, or not "
			 "an ELF program");
		return -1;
	}
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t ph = phdr_at(e, i);
		uint64_t type = FIELD(e, ph, Phdr, p_type), off = FIELD(e, ph, Phdr, p_offset);
		uint64_t size = FIELD(e, ph, Phdr, p_filesz);
		if (type == PT_INTERP) {
			e->has_interp = 1;
			copy_str(e, off, size, e->interp, sizeof(e->interp));
		} else if (type == PT_DYNAMIC) {
			e->has_dynamic = 1;
			read_dynamic(e, off, size);
		} else if (type == PT_NOTE && !e->go &&
			   has_go_note(e, off, size, FIELD(e, ph, Phdr, p_align))) {
			e->go = "its Go build ID note";
		}
	}
	read_sections(e);
	return 0;
}

static void elf_close(struct elf *e)
{
	if (e->p)
		munmap((void *)(uintptr_t)e->p, e->size);
	e->p = NULL;
}

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_X86_64: return "x86-64";
	case EM_386: return "i386";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "arm";
	case EM_RISCV: return "riscv";
	case EM_PPC64: return "ppc64";
	case EM_PPC: return "ppc";
	case EM_S390: return "s390";
	case EM_MIPS: return "mips";
#ifdef EM_LOONGARCH /* not in every C library's elf.h (musl 1.2.3's) */
	case EM_LOONGARCH: return "loongarch";
#endif
	default: return "another machine";
	}
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Which C library a loader's name belongs to. */
static const char *libc_of_interp(const char *interp)
{
	const char *b = base_name(interp);
	if (!strncmp(b, "ld-musl-", 8))
		return "musl";
	if (!strncmp(b, "ld-linux", 8) || !strncmp(b, "ld64.so.", 8) || !strncmp(b, "ld.so.", 6))
		return "glibc";
	if (!strncmp(b, "ld-uClibc", 9))
		return "uClibc";
	if (!strncmp(b, "linker", 6))
		return "Bionic";
	return NULL;
}

/* Which C library a DT_NEEDED name is, and so what a shared library was
 * built against (it has no loader of its own). */
static const char *libc_of_needed(const struct elf *e, const char **name)
{
	for (int i = 0; i < e->nneeded; i++) {
		const char *n = e->needed[i], *c = NULL;
		if (!strncmp(n, "libc.so.6", 9))
			c = "glibc";
		else if (!strcmp(n, "libc.so") || !strncmp(n, "libc.musl-", 10))
			c = "musl";
		else if (!strcmp(n, "libc.so.0"))
			c = "uClibc";
		if (c) {
			*name = n;
			return c;
		}
	}
	return NULL;
}

/* The TLS libraries whose writes socktune does not merge: only OpenSSL 3's
 * SSL_write and SSL_write_ex are held (shim/ssl.c finds libssl.so.3). */
static const struct {
	const char *prefix, *name;
} tls_libs[] = {
	{ "libgnutls.so", "GnuTLS" },     { "libnss3.so", "NSS" },
	{ "libssl3.so", "NSS" },          { "libwolfssl.so", "wolfSSL" },
	{ "libmbedtls.so", "Mbed TLS" },  { "libbotan-", "Botan" },
	{ "libs2n.so", "s2n-tls" },       { "libtls.so", "LibreSSL's libtls" },
	{ "libssl.so.", "a libssl other than OpenSSL 3's libssl.so.3" },
};

static void fact(struct reach *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fact(struct reach *r, const char *fmt, ...)
{
	size_t used = strlen(r->facts);
	if (used + 2 >= sizeof(r->facts))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->facts + used, sizeof(r->facts) - used - 1, fmt, ap);
	va_end(ap);
	strcat(r->facts, "\n");
}

static void finding(struct reach *r, enum reach_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void finding(struct reach *r, enum reach_verdict v, const char *fmt, ...)
{
	if (r->n >= REACH_FINDINGS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->finding[r->n].why, sizeof(r->finding[0].why), fmt, ap);
	va_end(ap);
	r->finding[r->n++].verdict = v;
	if (v > r->verdict)
		r->verdict = v;
}

/* PROG as execvp finds it: a name with a slash as it is, else the first
 * executable regular file of that name in PATH (execvp's default PATH when
 * it is unset). */
static int find_program(const char *prog, char *out, size_t n)
{
	if (!prog[0])
		return -1;
	if (strchr(prog, '/')) {
		snprintf(out, n, "%s", prog);
		return access(out, F_OK);
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p++) {
		size_t len = strcspn(p, ":");
		struct stat st;
		/* An empty entry is the current directory, as execvp takes it. */
		snprintf(out, n, "%.*s%s%s", (int)len, p, len ? "/" : "", prog);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		p += len;
		if (!*p)
			return -1;
	}
}

/* The program env(1) runs for a #! line's argument ("python3",
 * "-S python3 -u"): the first word that is neither an option nor a
 * NAME=VALUE. */
static int env_program(const char *arg, char *out, size_t n)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", arg);
	int skip_next = 0;
	for (char *w = strtok(buf, " \t"); w; w = strtok(NULL, " \t")) {
		if (skip_next) {
			skip_next = 0;
			continue;
		}
		if (!strcmp(w, "-u") || !strcmp(w, "-C") || !strcmp(w, "--unset") ||
		    !strcmp(w, "--chdir")) {
			skip_next = 1;
			continue;
		}
		if (w[0] == '-' || strchr(w, '='))
			continue;
		snprintf(out, n, "%s", w);
		return 0;
	}
	return -1;
}

/* Follows #! lines from r->path to the ELF file the kernel maps, into
 * elfpath, as far as the kernel nests interpreters. */
static int follow_scripts(struct reach *r, char *elfpath, size_t n, char *why, size_t whyn)
{
	char cur[PATH_MAX];
	snprintf(cur, sizeof(cur), "%s", r->path);
	for (int depth = 0; depth < 5; depth++) {
		char head[256];
		int fd = open(cur, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(why, whyn, "%s: cannot read it (%m)", cur);
			return -1;
		}
		ssize_t got = read(fd, head, sizeof(head) - 1);
		close(fd);
		if (got < 0) {
			snprintf(why, whyn, "%s: cannot read it (%m)", cur);
			return -1;
		}
		head[got] = '\0';
		if (got >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG)) {
			snprintf(elfpath, n, "%s", cur);
			return 0;
		}
		if (got < 2 || head[0] != '#' || head[1] != '!') {
			snprintf(why, whyn,
				 "%s is neither an ELF file nor a #! script: the kernel may run "
				 "it through binfmt_misc, or execvp through /bin/sh",
				 cur);
			return -1;
		}
		/* As the kernel splits it: the interpreter, then the rest of the
		 * line as one argument. */
		char *line = head + 2;
		line[strcspn(line, "\n")] = '\0';
		line += strspn(line, " \t");
		size_t ilen = strcspn(line, " \t");
		char interp[PATH_MAX], next[PATH_MAX];
		snprintf(interp, sizeof(interp), "%.*s", (int)ilen, line);
		char *arg = line + ilen;
		arg += strspn(arg, " \t");
		if (!interp[0]) {
			snprintf(why, whyn, "%s: its #! line names no interpreter", cur);
			return -1;
		}
		if (!strcmp(base_name(interp), "env")) {
			char name[256];
			if (env_program(arg, name, sizeof(name)) < 0 ||
			    find_program(name, next, sizeof(next)) < 0) {
				snprintf(why, whyn, "%s: the program its #! line runs through %s "
					 "is not found in PATH", cur, interp);
				return -1;
			}
			fact(r, "%s: a #! script, run by %s through %s", cur, next, interp);
		} else {
			snprintf(next, sizeof(next), "%s", interp);
			fact(r, "%s: a #! script, run by %s", cur, next);
		}
		snprintf(cur, sizeof(cur), "%s", next);
	}
	snprintf(why, whyn, "%s: #! interpreters nested deeper than the kernel follows", r->path);
	return -1;
}

/* Secure-execution mode: the kernel sets AT_SECURE when the exec changes
 * the effective ids away from the real ones (ld.so(8)).  Root running a
 * set-user-ID-root file changes nothing, so it is not secure. */
static void judge_secure(struct reach *r, const char *path)
{
	struct stat st;
	struct statvfs fs;
	if (stat(path, &st) < 0)
		return;
	int suid = (st.st_mode & S_ISUID) != 0;
	/* Without group execute, S_ISGID marks mandatory locking. */
	int sgid = (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP);
	if (suid || sgid) {
		const char *ignored = NULL;
		if (statvfs(path, &fs) == 0 && (fs.f_flag & ST_NOSUID))
			ignored = "its file system is mounted nosuid";
		else if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
			ignored = "this process has no_new_privs set";
		if (ignored) {
			fact(r, "%s: set-%s-ID, without effect here: %s", path, suid ? "user" : "group",
			     ignored);
			return;
		}
	}
	uid_t ruid = getuid(), euid = suid ? st.st_uid : geteuid();
	gid_t rgid = getgid(), egid = sgid ? st.st_gid : getegid();
	const char *secure = "the kernel runs it in secure-execution mode (AT_SECURE), in which "
			     "the loader ignores LD_PRELOAD entries that contain a slash, as "
			     "socktune's does (ld.so(8)); only /etc/ld.so.preload reaches it";
	if (euid != ruid)
		finding(r, REACH_NO, "set-user-ID to uid %lu, its owner, while your real uid is %lu: %s",
			(unsigned long)euid, (unsigned long)ruid, secure);
	else if (egid != rgid)
		finding(r, REACH_NO, "set-group-ID to gid %lu, its group, while your real gid is %lu: %s",
			(unsigned long)egid, (unsigned long)rgid, secure);
	else if (suid || sgid)
		fact(r, "%s: set-%s-ID, but to your own real id: not secure-execution mode", path,
		     suid ? "user" : "group");
	else if (geteuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
		finding(r, REACH_NO, "it has file capabilities (security.capability) and you are not "
			"root: %s", secure);
}

/* Whether the library goes into LD_PRELOAD by $LIB, which the loader
 * expands by each program's own class (cli_preload does the same test). */
static int preload_by_lib(const char *lib)
{
	return strcmp(lib, SOCKTUNE_LIBDIR "/" SOCKTUNE_LIBNAME) == 0 &&
	       strstr(SOCKTUNE_PRELOAD, "$LIB") != NULL;
}

static void judge_against_library(struct reach *r, const struct elf *pe, const char *lib)
{
	struct elf le;
	char why[256];
	if (elf_open(&le, lib, why, sizeof(why)) < 0) {
		fact(r, "library %s: %s, so nothing is compared with it", lib, why);
		elf_close(&le);
		return;
	}
	const char *lneed = NULL, *llibc = libc_of_needed(&le, &lneed);
	fact(r, "library %s: ELF %d-bit %s%s%s%s", lib, le.cls == ELFCLASS64 ? 64 : 32,
	     machine_name(le.machine), llibc ? ", for " : "", llibc ? llibc : "",
	     llibc ? "" : " (its C library not recognised)");
	int same_kind = pe->cls == le.cls && pe->machine == le.machine && pe->big == le.big;
	if (!same_kind && preload_by_lib(lib)) {
		fact(r, "the library goes into LD_PRELOAD as %s: the loader picks the copy of "
		     "the program's own class by $LIB", SOCKTUNE_PRELOAD);
	} else if (pe->cls != le.cls) {
		finding(r, REACH_NO,
			"a %d-bit program, and the library is %d-bit: the loader ignores the "
			"library (\"wrong ELF class\") and runs the program untuned",
			pe->cls == ELFCLASS64 ? 64 : 32, le.cls == ELFCLASS64 ? 64 : 32);
	} else if (!same_kind) {
		finding(r, REACH_NO,
			"built for %s, and the library for %s: the loader ignores the library "
			"and runs the program untuned",
			machine_name(pe->machine), machine_name(le.machine));
	}
	const char *pneed = NULL;
	const char *plibc = pe->has_interp ? libc_of_interp(pe->interp) : NULL;
	if (!plibc)
		plibc = libc_of_needed(pe, &pneed);
	if (same_kind && pe->has_interp && plibc && llibc && strcmp(plibc, llibc) != 0) {
		char how[320];
		if (pneed)
			snprintf(how, sizeof(how), "it needs %s", pneed);
		else
			snprintf(how, sizeof(how), "its loader is %s", pe->interp);
		finding(r, REACH_NO,
			"built for %s (%s), and the library for %s (it needs %s): the loader "
			"cannot load the library's dependencies and would not start the program "
			"at all (exit 127), so `socktune --` runs it without the library, untuned; "
			"a library built with %s reaches it",
			plibc, how, llibc, lneed, plibc);
		r->leave_out = 1;
	}
	elf_close(&le);
}

static void judge_tls(struct reach *r, const struct elf *pe)
{
	const char *said = NULL;
	for (int i = 0; i < pe->nneeded; i++) {
		const char *n = pe->needed[i];
		if (!strcmp(n, "libssl.so.3"))
			continue;
		for (size_t t = 0; t < sizeof(tls_libs) / sizeof(tls_libs[0]); t++) {
			if (strncmp(n, tls_libs[t].prefix, strlen(tls_libs[t].prefix)) != 0 ||
			    said == tls_libs[t].name)
				continue;
			said = tls_libs[t].name;
			finding(r, REACH_PARTLY,
				"it links %s (%s), whose writes socktune does not merge: tls_merge "
				"holds only OpenSSL 3's SSL_write and SSL_write_ex; its socket "
				"buffers are still tuned, and its writes corked when asked",
				tls_libs[t].name, n);
		}
	}
}

static void describe(struct reach *r, const char *path, const struct elf *e)
{
	char needs[512] = "";
	for (int i = 0; i < e->nneeded; i++) {
		size_t used = strlen(needs);
		snprintf(needs + used, sizeof(needs) - used, "%s%s", i ? " " : "", e->needed[i]);
	}
	const char *libc = e->has_interp ? libc_of_interp(e->interp) : NULL;
	if (e->has_interp)
		fact(r, "%s: ELF %d-bit %s, dynamically linked, loader %s%s%s%s", path,
		     e->cls == ELFCLASS64 ? 64 : 32, machine_name(e->machine), e->interp,
		     libc ? " (" : "", libc ? libc : "", libc ? ")" : "");
	else
		fact(r, "%s: ELF %d-bit %s, no PT_INTERP", path, e->cls == ELFCLASS64 ? 64 : 32,
		     machine_name(e->machine));
	if (needs[0])
		fact(r, "  needs (DT_NEEDED): %s", needs);
}

enum reach_verdict reach_judge(const char *prog, const char *lib, struct reach *r)
{
	memset(r, 0, sizeof(*r));
	r->verdict = REACH_YES;
	if (find_program(prog, r->path, sizeof(r->path)) < 0) {
		r->verdict = REACH_UNKNOWN;
		fact(r, "%s: not found%s", prog, strchr(prog, '/') ? "" : " in PATH");
		return r->verdict;
	}
	r->found = 1;
	char elfpath[PATH_MAX], why[3 * PATH_MAX];
	struct elf pe;
	if (follow_scripts(r, elfpath, sizeof(elfpath), why, sizeof(why)) < 0) {
		fact(r, "%s", why);
		r->verdict = REACH_UNKNOWN;
		return r->verdict;
	}
	if (elf_open(&pe, elfpath, why, sizeof(why)) < 0) {
		fact(r, "%s: %s", elfpath, why);
		elf_close(&pe);
		r->verdict = REACH_UNKNOWN;
		return r->verdict;
	}
	if (pe.type != ET_EXEC && pe.type != ET_DYN) {
		fact(r, "%s: an ELF file, but not an executable one", elfpath);
		r->verdict = REACH_UNKNOWN;
		elf_close(&pe);
		return r->verdict;
	}
	describe(r, elfpath, &pe);
	int loader = !pe.has_interp && pe.type == ET_DYN && !pe.pie_flag && pe.has_dynamic &&
		     (!strncmp(pe.soname, "ld", 2) || !strncmp(base_name(elfpath), "ld-", 3) ||
		      !strncmp(base_name(elfpath), "ld64", 4));
	if (loader) {
		/* ld.so run as a command loads the program it is given, and
		 * preloads for it. */
		fact(r, "%s is a dynamic loader, run as a command: it reads LD_PRELOAD for the "
		     "program it loads, which is not judged here", elfpath);
		r->verdict = REACH_UNKNOWN;
		elf_close(&pe);
		return r->verdict;
	}
	if (!pe.has_interp && pe.type == ET_DYN && !pe.pie_flag && pe.soname[0]) {
		/* A static-pie program has no SONAME; a library has. */
		fact(r, "%s is a shared library (SONAME %s) with no loader of its own, not a "
		     "program", elfpath, pe.soname);
		r->verdict = REACH_UNKNOWN;
		elf_close(&pe);
		return r->verdict;
	}
	if (!pe.has_interp)
		finding(r, REACH_NO,
			"statically linked (%s): it has no PT_INTERP program header, so no "
			"dynamic loader runs, nothing reads LD_PRELOAD, and the program runs "
			"untuned",
			pe.type == ET_EXEC ? "an ET_EXEC file" : "static-pie, an ET_DYN file");
	if (pe.go)
		finding(r, REACH_NO,
			"a Go program (%s): on Linux the Go runtime makes its socket calls "
			"(socket, connect, setsockopt, write, ...) as raw system calls, not "
			"through the C library, so socktune's hooks see none of the Go code's "
			"sockets%s",
			pe.go,
			pe.has_interp ? "; it is dynamically linked (cgo), so the library loads, "
					"but it sees only the calls of C code (cgo, the C library's "
					"name resolver)"
				      : "");
	judge_secure(r, elfpath);
	if (pe.has_interp)
		judge_against_library(r, &pe, lib);
	judge_tls(r, &pe);
	elf_close(&pe);
	return r->verdict;
}

static const char *verdict_word(enum reach_verdict v)
{
	return v == REACH_NO ? "not reached" : "partly reached";
}

int reach_warn(const char *prog, const char *lib)
{
	static struct reach r;
	if (reach_judge(prog, lib, &r) == REACH_YES || r.verdict == REACH_UNKNOWN)
		return 0;
	for (int i = 0; i < r.n; i++)
		fprintf(stderr, "socktune: %s: %s: %s\n", prog, verdict_word(r.finding[i].verdict),
			r.finding[i].why);
	return r.leave_out;
}

int reach_show(const char *prog, const char *lib)
{
	static struct reach r;
	reach_judge(prog, lib, &r);
	printf("\nprogram %s:\n", prog);
	for (const char *l = r.facts; *l;) {
		size_t len = strcspn(l, "\n");
		printf("  %.*s\n", (int)len, l);
		l += len + (l[len] == '\n');
	}
	for (int i = 0; i < r.n; i++)
		printf("  %s: %s\n", verdict_word(r.finding[i].verdict), r.finding[i].why);
	switch (r.verdict) {
	case REACH_YES:
		printf("  reachable: the loader will preload the library into it\n");
		return 0;
	case REACH_UNKNOWN:
		if (!r.found)
			return 127;
		printf("  not judged: socktune claims nothing about it\n");
		return 0;
	case REACH_PARTLY:
		return 4;
	case REACH_NO:
		break;
	}
	return 3;
}
