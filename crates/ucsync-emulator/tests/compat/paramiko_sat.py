"""Logs in to the CM emulator with paramiko and runs OSSI commands in a shell.

Usage: paramiko_sat.py HOST PORT LOGIN PASSWORD; prints the session output.
"""
import sys

import paramiko

host, port, login, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = paramiko.SSHClient()
client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
client.connect(host, port=port, username=login, password=password,
               look_for_keys=False, allow_agent=False, timeout=10)
key = client.get_transport().get_remote_server_key()
print("# host key", key.get_name(), file=sys.stderr)
banner = client.get_transport().get_banner() or b""
print("# banner", banner.decode("utf-8", "replace").strip(), file=sys.stderr)
chan = client.invoke_shell(term="vt100")
chan.settimeout(10)
chan.sendall(b"ossi\nclist station count 2\nf8005ff00\t8003ff00\nt\nclogoff\nt\ny\n")
out = b""
while True:
    data = chan.recv(65536)
    if not data:
        break
    out += data
sys.stdout.write(out.decode("utf-8", "replace"))
client.close()
