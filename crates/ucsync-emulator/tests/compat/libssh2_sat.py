"""Logs in to the CM emulator with the system's libssh2 (through ctypes) and
runs OSSI commands in a shell, as a libssh2-based management tool would.

Usage: libssh2_sat.py HOST PORT LOGIN PASSWORD; prints the session output.
"""
import ctypes
import ctypes.util
import socket
import sys

host, port, login, password = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4].encode()
lib = ctypes.CDLL(ctypes.util.find_library("ssh2") or "libssh2.so.1")
vp, cp, ui, i, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_int, ctypes.c_size_t
lib.libssh2_version.restype = cp
lib.libssh2_version.argtypes = [i]
lib.libssh2_session_init_ex.restype = vp
lib.libssh2_session_init_ex.argtypes = [vp, vp, vp, vp]
lib.libssh2_session_handshake.argtypes = [vp, i]
lib.libssh2_session_methods.restype = cp
lib.libssh2_session_methods.argtypes = [vp, i]
lib.libssh2_userauth_password_ex.argtypes = [vp, cp, ui, cp, ui, vp]
lib.libssh2_channel_open_ex.restype = vp
lib.libssh2_channel_open_ex.argtypes = [vp, cp, ui, ui, ui, cp, ui]
lib.libssh2_channel_request_pty_ex.argtypes = [vp, cp, ui, cp, ui, i, i, i, i]
lib.libssh2_channel_process_startup.argtypes = [vp, cp, ui, cp, ui]
lib.libssh2_channel_write_ex.restype = ctypes.c_ssize_t
lib.libssh2_channel_write_ex.argtypes = [vp, i, cp, sz]
lib.libssh2_channel_read_ex.restype = ctypes.c_ssize_t
lib.libssh2_channel_read_ex.argtypes = [vp, i, ctypes.c_char_p, sz]
lib.libssh2_channel_eof.argtypes = [vp]


def check(rc, what):
    if rc != 0:
        sys.exit(f"{what} failed: {rc}")


print("# libssh2", lib.libssh2_version(0).decode(), file=sys.stderr)
check(lib.libssh2_init(0), "init")
session = lib.libssh2_session_init_ex(None, None, None, None)
sock = socket.create_connection((host, port), timeout=10)
check(lib.libssh2_session_handshake(session, sock.fileno()), "handshake")
print("# kex", lib.libssh2_session_methods(session, 0).decode(),
      "host key", lib.libssh2_session_methods(session, 1).decode(), file=sys.stderr)
check(lib.libssh2_userauth_password_ex(session, login, len(login), password, len(password), None), "password")
channel = lib.libssh2_channel_open_ex(session, b"session", 7, 2 * 1024 * 1024, 32768, None, 0)
if not channel:
    sys.exit("channel open failed")
check(lib.libssh2_channel_request_pty_ex(channel, b"vt100", 5, None, 0, 80, 24, 0, 0), "pty")
check(lib.libssh2_channel_process_startup(channel, b"shell", 5, None, 0), "shell")
data = b"ossi\nclist station count 2\nf8005ff00\t8003ff00\nt\nclogoff\nt\ny\n"
if lib.libssh2_channel_write_ex(channel, 0, data, len(data)) != len(data):
    sys.exit("write failed")
buf = ctypes.create_string_buffer(65536)
out = b""
while True:
    n = lib.libssh2_channel_read_ex(channel, 0, buf, 65536)
    if n > 0:
        out += buf.raw[:n]
    elif n == 0 and lib.libssh2_channel_eof(channel):
        break
    elif n < 0:
        sys.exit(f"read failed: {n}")
sys.stdout.write(out.decode("utf-8", "replace"))
