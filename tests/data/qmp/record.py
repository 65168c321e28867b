#!/usr/bin/env python3
# record.py: record a QMP session with the real QEMU into a transcript that
# tests/unit/test-qmp.c replays. Each line is "S: <json>" (sent by QEMU) or
# "C: <json>" (sent by the client), in the order they crossed the socket.
#
#   python3 record.py OUT.qmp [QEMU ARGS...]
#   e.g. record.py qemu-7.2-tcg.qmp -machine none -nodefaults
#
# qemu-7.2-kvm.qmp came from "-accel kvm -machine pc -m 64M -nodefaults -S
# -cpu qemu64,-pni", with its query-qmp-schema exchange taken out (the TCG
# recording carries the schema).
import json, os, socket, subprocess, sys, tempfile, time

out_path, qemu_args = sys.argv[1], sys.argv[2:]
tmp = tempfile.mkdtemp()
sock_path = os.path.join(tmp, "qmp.sock")
qemu = subprocess.Popen(["qemu-system-x86_64"] + qemu_args +
                        ["-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock_path])
try:
    for _ in range(200):
        if os.path.exists(sock_path):
            break
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rwb")
    lines = []

    def server_line():
        line = f.readline().decode().rstrip("\r\n")
        if line:
            lines.append("S: " + line)
        return line

    def command(n, name, args=None):
        msg = {"execute": name, "id": "vmctl-%d" % n}
        if args is not None:
            msg["arguments"] = args
        text = json.dumps(msg)
        lines.append("C: " + text)
        f.write((text + "\r\n").encode())
        f.flush()
        while True:
            reply = json.loads(server_line())
            if "return" in reply or "error" in reply:
                return

    server_line()
    script = [("qmp_capabilities", None), ("query-version", None), ("query-kvm", None),
              ("query-migrate-capabilities", None), ("query-commands", None),
              ("query-status", None), ("stop", None), ("cont", None),
              ("no-such-command", None), ("migrate-set-parameters", {"max-bandwidth": "x"}),
              ("query-qmp-schema", None), ("quit", None)]
    for n, (name, args) in enumerate(script, 1):
        command(n, name, args)
    try:
        while server_line():
            pass
    except ConnectionResetError:
        pass
    with open(out_path, "w") as out:
        out.write("\n".join(lines) + "\n")
finally:
    qemu.kill()
    qemu.wait()
    os.unlink(sock_path) if os.path.exists(sock_path) else None
    os.rmdir(tmp)
