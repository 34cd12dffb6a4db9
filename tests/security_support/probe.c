/* The escape probe: built static by the sandbox-security tests and run inside RUN steps and
 * containers. Each check tries one way out of Docker's default sandbox and prints
 * "NAME: ok" when it was refused, "NAME: ESCAPE detail" when it worked.
 * Usage: probe all [HOST_LOOPBACK_PORT] [EXTRA_DIR...] | probe caps | probe keyring-id */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEYCTL_GET_KEYRING_ID 0
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4

static int escapes;

static void result(const char *name, int refused, const char *detail) {
  if (refused) {
    printf("%s: ok\n", name);
  } else {
    printf("%s: ESCAPE %s\n", name, detail);
    escapes++;
  }
}

static void check_namespaces(void) {
  result("unshare-user", unshare(CLONE_NEWUSER) != 0, "unshare(CLONE_NEWUSER) worked");
  result("unshare-mount", unshare(CLONE_NEWNS) != 0, "unshare(CLONE_NEWNS) worked");
  long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, NULL, 0);
  result("clone-newns", pid < 0, "clone(CLONE_NEWNS) worked");
  mkdir("/probe-mnt", 0755);
  int m = mount("none", "/probe-mnt", "tmpfs", 0, NULL);
  if (m == 0) umount("/probe-mnt");
  result("mount", m != 0, "mount(tmpfs) worked");
  rmdir("/probe-mnt");
  result("setns", syscall(SYS_setns, 0, 0) != 0 && errno == EPERM, "setns not refused by the filter");
}

static void check_keys(void) {
  result("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) < 0,
         "keyctl reached the user keyring");
  result("add_key",
         syscall(SYS_add_key, "user", "strata-probe", "x", 1, KEY_SPEC_SESSION_KEYRING) < 0,
         "add_key added a key");
  result("request_key", syscall(SYS_request_key, "user", "strata-probe", NULL, 0) < 0 && errno != ENOKEY,
         "request_key searched the keyrings");
  int fd = open("/proc/keys", O_RDONLY);
  char buf[64];
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
  if (fd >= 0) close(fd);
  result("proc-keys", n <= 0, "/proc/keys lists keys");
}

static void check_devices(const char *dir) {
  static const struct { const char *name; mode_t type; int major, minor; } devs[] = {
      {"loop0", S_IFBLK, 7, 0},
      {"loop-control", S_IFCHR, 10, 237},
      {"kvm", S_IFCHR, 10, 232},
      {"hwrng", S_IFCHR, 10, 183},
      {"mem", S_IFCHR, 1, 1},
  };
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    char path[512], name[600], detail[700];
    snprintf(path, sizeof path, "%s/probe-%s", dir, devs[i].name);
    snprintf(name, sizeof name, "device %s in %s", devs[i].name, dir);
    unlink(path);
    if (mknod(path, devs[i].type | 0600, makedev(devs[i].major, devs[i].minor)) != 0) {
      result(name, 1, "");
      continue;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    int err = errno;
    if (fd >= 0) close(fd);
    unlink(path);
    /* Refused means refused by the sandbox; a missing driver (ENXIO, ENODEV) is not that. */
    snprintf(detail, sizeof detail, "open: %s", fd >= 0 ? "succeeded" : strerror(err));
    result(name, fd < 0 && (err == EACCES || err == EPERM), detail);
  }
}

static unsigned long long status_field(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long long v = ~0ULL;
  size_t k = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, k) == 0 && line[k] == ':') v = strtoull(line + k + 1, NULL, 16);
  if (f) fclose(f);
  return v;
}

static void check_caps(void) {
  /* Docker's default 14 capabilities. */
  const unsigned long long docker = 0xa80425fbULL;
  char detail[256];
  unsigned long long inh = status_field("CapInh"), prm = status_field("CapPrm"),
                     eff = status_field("CapEff"), bnd = status_field("CapBnd"),
                     amb = status_field("CapAmb");
  snprintf(detail, sizeof detail, "inh=%llx prm=%llx eff=%llx bnd=%llx amb=%llx", inh, prm, eff,
           bnd, amb);
  int uid0 = getuid() == 0;
  result("caps", inh == 0 && amb == 0 && bnd == docker && prm == (uid0 ? docker : 0) &&
                     eff == (uid0 ? docker : 0),
         detail);
  /* The seccomp field is decimal: 2 = filter. */
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int mode = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "Seccomp:", 8) == 0) mode = atoi(line + 8);
  if (f) fclose(f);
  snprintf(detail, sizeof detail, "Seccomp: %d", mode);
  result("seccomp", mode == 2, detail);
}

static void check_terminal(void) {
  int ttys = 0, pushed = 0;
  char c = ' ';
  for (int fd = 0; fd <= 2; fd++) {
    if (!isatty(fd)) continue;
    ttys++;
    if (ioctl(fd, TIOCSTI, &c) == 0) pushed++;
  }
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
  if (fd >= 0) {
    ttys++;
    if (ioctl(fd, TIOCSTI, &c) == 0) pushed++;
    close(fd);
  }
  char detail[64];
  snprintf(detail, sizeof detail, "TIOCSTI worked on %d of %d terminals", pushed, ttys);
  printf("terminals seen: %d\n", ttys);
  result("tiocsti", pushed == 0, detail);
}

static void check_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int extra = 0;
  char detail[256] = "open:";
  struct dirent *e;
  while (d && (e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d)) continue;
    extra++;
    size_t len = strlen(detail);
    snprintf(detail + len, sizeof detail - len, " %d", fd);
  }
  if (d) closedir(d);
  result("fds", extra == 0, detail);
}

static void check_host_loopback(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "10.0.2.2", &a.sin_addr);
  struct timeval tv = {.tv_sec = 2};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int r = connect(s, (struct sockaddr *)&a, sizeof a);
  close(s);
  result("host-loopback", r != 0, "connected to the host's 127.0.0.1 through 10.0.2.2");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "keyring-id") == 0) {
    printf("%ld\n", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "caps") == 0) {
    printf("CapEff=%llx CapBnd=%llx CapInh=%llx CapAmb=%llx\n", status_field("CapEff"),
           status_field("CapBnd"), status_field("CapInh"), status_field("CapAmb"));
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "all") != 0) {
    fprintf(stderr, "usage: probe all [PORT] [DIR...] | caps | keyring-id\n");
    return 2;
  }
  check_fds();
  /* A namespace or persona that the probe did get must not change what later checks see. */
  pid_t child = fork();
  if (child == 0) {
    check_namespaces();
    result("personality", personality(PER_BSD) < 0, "personality(PER_BSD) worked");
    _exit(escapes);
  }
  int status = 0;
  waitpid(child, &status, 0);
  escapes += WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  check_keys();
  check_caps();
  check_terminal();
  const char *dirs[] = {"/", "/tmp", "/dev", "/dev/shm"};
  for (size_t i = 0; i < 4; i++) check_devices(dirs[i]);
  for (int i = 3; i < argc; i++) check_devices(argv[i]);
  if (argc >= 3 && atoi(argv[2]) > 0) check_host_loopback(atoi(argv[2]));
  printf("escapes: %d\n", escapes);
  return 0;
}
