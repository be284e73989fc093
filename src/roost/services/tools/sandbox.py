"""The bash tool's sandbox: the bubblewrap (`bwrap`) command line that confines a command.

Inside, the command sees the user's workspace (read-write, at its real path), the system
folders (/usr, /bin, /lib*, a few files of /etc) read-only, a fresh /proc of its own PID
namespace, a fresh /dev and /tmp, and nothing else: not $ROOST_HOME (the database,
secrets, keys, other users' workspaces), not the server's processes or their environment,
no network unless asked for, and no capabilities even when the server runs as root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from roost.services.tools.base import ToolError

BWRAP = "bwrap"  # looked up on PATH (tests point it at a missing file)
INSTALL = (
    "the bash tool runs commands in a bubblewrap sandbox and `bwrap` is not installed: "
    "install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap; "
    'Arch: pacman -S bubblewrap), or set [tools] bash_sandbox = "none" to run commands '
    "unconfined as the server's user"
)
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"

# Top-level system folders, bound read-only (merged-/usr systems have symlinks here).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs need of /etc: users and names, the dynamic linker, time zone, alternatives
# (awk, editors), TLS roots, name resolution. Nothing else of /etc is visible (not
# shadow, not ssl/private, not the credentials of services installed on the machine).
ETC = (
    "passwd",
    "group",
    "nsswitch.conf",
    "host.conf",
    "hosts",
    "resolv.conf",
    "gai.conf",
    "services",
    "protocols",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "alternatives",
    "ssl/certs",  # not /etc/ssl: its private/ holds TLS keys a root server could read
    "ssl/openssl.cnf",
    "ca-certificates",
    "ca-certificates.conf",
    "mime.types",
    "magic",
    "os-release",
    "debian_version",
    "terminfo",
)


def find_bwrap() -> str:
    """The bwrap executable; ToolError saying how to install it when there is none."""
    search = os.pathsep.join(filter(None, (os.environ.get("PATH"), _SEARCH_PATH)))
    found = shutil.which(BWRAP, path=search)
    if found is None:
        raise ToolError(INSTALL)
    return found


def environment(workspace: Path) -> dict[str, str]:
    """The command's whole environment inside the sandbox."""
    return {"PATH": SANDBOX_PATH, "HOME": str(workspace), "LANG": "C.UTF-8", "TERM": "dumb"}


def command_line(
    bwrap: str, workspace: Path, argv: list[str], *, network: bool, home: Path | None
) -> list[str]:
    """The bwrap command that runs `argv` in `workspace` (a resolved path), confined.

    `home` ($ROOST_HOME) stays out of sight: when the workspace lies inside it only the
    workspace is bound; when it lies inside the workspace an empty read-only folder covers
    it; when it is the workspace itself the call is refused.
    """
    hidden = _hidden_home(workspace, home)
    args = [
        bwrap,
        "--die-with-parent",  # the sandbox goes when its bwrap is killed (timeout, cancel)
        "--new-session",  # no terminal to push keystrokes into
        "--unshare-pid",  # its own processes only: not the server's, not their environ
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *([] if network else ["--unshare-net"]),
        "--cap-drop",
        "ALL",  # a server running as root gives the command no capabilities
        "--clearenv",
    ]
    for name, value in environment(workspace).items():
        args += ["--setenv", name, value]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += [
        "--proc",
        "/proc",
        # a root server's command could otherwise write the kernel's settings
        "--ro-bind",
        "/proc/sys",
        "/proc/sys",
        "--ro-bind-try",
        "/proc/sysrq-trigger",
        "/proc/sysrq-trigger",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",  # noqa: S108 - the sandbox's own, empty /tmp
        "--bind",
        str(workspace),
        str(workspace),
    ]
    if hidden is not None:
        args += ["--tmpfs", str(hidden), "--remount-ro", str(hidden)]
    args += ["--remount-ro", "/", "--chdir", str(workspace), "--", *argv]
    return args


def _hidden_home(workspace: Path, home: Path | None) -> Path | None:
    """$ROOST_HOME when it lies inside the workspace (and must be covered), else None."""
    if home is None:
        return None
    home = home.expanduser().resolve()
    if home == workspace:
        raise ToolError(
            "the bash sandbox will not run in a workspace that is $ROOST_HOME itself (the "
            "database, secrets and keys): set [memory] workspace to a folder inside it, "
            "such as the default 'workspace', or outside it"
        )
    return home if home.is_relative_to(workspace) else None
