"""Private Postfix and Dovecot instances on loopback for tests: their own configuration, queue and
mail folders in a temporary directory and non-standard ports, so the system's services are not
used or needed. Both run in the foreground as children of the test and are stopped after it.

Without the Debian packages (postfix, dovecot-imapd) or root, the tests skip, saying why; in the
full environment CI uses (PAPERBOY_REQUIRE_BROWSER=1) they fail instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_BROWSER
from tests.support.smtp_server import free_port

POSTFIX = Path("/usr/sbin/postfix")
DOVECOT = Path("/usr/sbin/dovecot")


def require(program: Path, package: str) -> None:
    reason = None
    if not program.exists():
        reason = f"needs {program} (apt-get install {package})"
    elif os.geteuid() != 0:
        reason = f"needs root to start a private {program.name}"
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"PAPERBOY_REQUIRE_BROWSER=1 (the full suite) but this test {reason}")
        pytest.skip(f"this test {reason}")


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    import socket

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what} did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)


def _private_dir(prefix: str) -> Path:
    # Under /tmp rather than pytest's tmp_path: the daemons drop to their own users, who cannot
    # enter root's private pytest directories.
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    return directory


MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
local     unix  - n n -    - local
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A Postfix MTA: accepts mail on 127.0.0.1:port for any user at `local_domain` (delivering to
    real local users, bouncing the rest), and relays each domain of `routes` to its loopback port;
    the addresses in `refuse` it refuses at RCPT TO, as a relay refuses a recipient it knows to be bad."""

    def __init__(self, local_domain: str, routes: dict[str, int], refuse: tuple[str, ...] = ()):
        require(POSTFIX, "postfix")
        self.port = free_port()
        self.dir = _private_dir("paperboy-postfix-")
        self.config = self.dir / "etc"
        for name in ("etc", "queue", "data"):
            (self.dir / name).mkdir()
        shutil.chown(self.dir / "data", "postfix")
        transport = ",".join(f"{domain}=smtp:[127.0.0.1]:{port}" for domain, port in routes.items())
        refused = ",".join(f"{address}=REJECT" for address in refuse)
        restrictions = f"smtpd_recipient_restrictions = check_recipient_access inline:{{{refused}}}" if refuse else ""
        (self.config / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.{local_domain}
mydomain = {local_domain}
myorigin = {local_domain}
mydestination = {local_domain}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Accept every local recipient: one that does not exist bounces after the message was accepted,
# which is what a relay does (a DSN to the envelope sender), rather than a refusal at RCPT TO.
local_recipient_maps =
alias_maps =
alias_database =
smtp_dns_support_level = disabled
transport_maps = inline:{{{transport}}}
{restrictions}
maillog_file = /dev/stdout
biff = no
""")
        (self.config / "master.cf").write_text(MASTER_CF.format(port=self.port))
        self.log = self.dir / "postfix.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(POSTFIX), "-c", str(self.config), "start-fg"], stdout=log, stderr=subprocess.STDOUT
            )
        _wait_for_port(self.port, self.process, self.log, "postfix")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> str:
        subprocess.run([str(POSTFIX), "-c", str(self.config), "stop"], capture_output=True, timeout=60)
        try:
            self.process.wait(timeout=60)
        finally:
            log = self.log.read_text(errors="replace")
            shutil.rmtree(self.dir, ignore_errors=True)
        return log


class Dovecot:
    """A Dovecot IMAP server on 127.0.0.1:port: any user name, password `password`, Maildir folders."""

    password = "secret"

    def __init__(self):
        require(DOVECOT, "dovecot-imapd")
        self.port = free_port()
        self.dir = _private_dir("paperboy-dovecot-")
        (self.dir / "mail").mkdir()
        shutil.chown(self.dir / "mail", "dovecot", "dovecot")
        self.config = self.dir / "dovecot.conf"
        self.config.write_text(f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = paperboy-test-{self.port}
log_path = {self.dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{self.dir}/mail/%u
first_valid_uid = 1
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={self.dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
        self.log = self.dir / "dovecot.log"
        self.process = subprocess.Popen(
            [str(DOVECOT), "-c", str(self.config), "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        _wait_for_port(self.port, self.process, self.log, "dovecot")

    def url(self, user: str, mailbox: str = "INBOX") -> str:
        return f"imap://{user}:{self.password}@127.0.0.1:{self.port}/{mailbox}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
