// Confinement probes, run as pid 1 of a container under `berth run` and `docker run` alike
// (ConfinementSideBySideTests compares the two outputs line by line). Each probe tries one thing
// a confined container must not be able to do (or, for the last few, reports a fact) and prints
// `name: allowed` or `name: denied (ERRNO-NAME)`.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *errno_name(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ETXTBSY: return "ETXTBSY";
    case EBADF: return "EBADF";
    case ENXIO: return "ENXIO";
    default: return "other";
    }
}

static void report(const char *name, int rc) {
    if (rc == 0) printf("%s: allowed\n", name);
    else printf("%s: denied (%s)\n", name, errno_name(errno));
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    int rc = write(fd, text, strlen(text)) < 0 ? -1 : 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int read_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    char buffer[16];
    int rc = read(fd, buffer, sizeof buffer) < 0 ? -1 : 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static void status_line(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) fputs(line, stdout);
    if (f) fclose(f);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    alarm(30);  // a probe that hangs must not hang the test
    mkdir("/mnt", 0755);
    report("mount tmpfs", mount("none", "/mnt", "tmpfs", 0, NULL));
    report("unshare mount namespace", unshare(CLONE_NEWNS));
    report("unshare user namespace", unshare(CLONE_NEWUSER));
    int ns = open("/proc/1/ns/mnt", O_RDONLY);
    report("setns mount namespace", ns < 0 ? -1 : setns(ns, 0));
    report("keyctl join session keyring", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 ? -1 : 0);
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long map = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
    report("bpf map create", map < 0 ? -1 : 0);

    // ptrace of pid 1 from a second process.
    pid_t child = fork();
    if (child == 0) {
        if (ptrace(PTRACE_ATTACH, 1, NULL, NULL) != 0) _exit(errno == EPERM ? 1 : 2);
        // Attached: pid 1 is stopped; let it go again before reporting.
        int stopped = 0;
        waitpid(1, &stopped, __WALL);
        ptrace(PTRACE_DETACH, 1, NULL, NULL);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("ptrace pid 1 from a second process: %s\n",
           WEXITSTATUS(status) == 0 ? "allowed" : WEXITSTATUS(status) == 1 ? "denied (EPERM)" : "denied (other)");

    report("write /proc/sys/kernel/hostname", write_file("/proc/sys/kernel/hostname", "x"));
    report("write /proc/sysrq-trigger", write_file("/proc/sysrq-trigger", "h"));
    report("read /proc/kcore", read_file("/proc/kcore"));
    report("read /proc/keys", read_file("/proc/keys"));
    report("mknod block device", mknod("/tmp/disk", S_IFBLK | 0600, makedev(8, 0)));
    report("open the block device", read_file("/tmp/disk"));
    report("open /dev/mem", read_file("/dev/mem"));
    report("sethostname", sethostname("x", 1));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    report("clock_settime", clock_settime(CLOCK_REALTIME, &now));
    report("reboot", reboot(RB_POWER_OFF));
    report("ioperm", ioperm(0x80, 1, 1));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY) < 0 && errno == EPERM ? -1 : 0);
    report("overwrite /proc/self/exe", write_file("/proc/self/exe", "x"));
    report("chroot", chroot("/"));
    report("swapon", swapon("/tmp/disk", 0));
    report("init_module", syscall(SYS_init_module, NULL, 0, "") < 0 && errno == EPERM ? -1 : 0);

    // Facts.
    int visible = 0;
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir(proc)))
        if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9') visible++;
    if (proc) closedir(proc);
    printf("processes visible: %d\n", visible);
    printf("pid: %d\n", getpid());
    DIR *firmware = opendir("/sys/firmware");
    int entries = 0;
    while (firmware && (entry = readdir(firmware)))
        if (entry->d_name[0] != '.') entries++;
    if (firmware) closedir(firmware);
    printf("/sys/firmware entries: %d\n", entries);
    status_line("CapInh");
    status_line("CapPrm");
    status_line("CapEff");
    status_line("CapBnd");
    status_line("CapAmb");
    status_line("NoNewPrivs");
    status_line("Seccomp:");
    return 0;
}
