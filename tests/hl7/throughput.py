"""How many ADT messages remit applies a second over one MLLP connection, each waited for (as a patient
administration system sends them), measured with the `hl7` package's MLLP client.

Usage: python tests/hl7/throughput.py PATH_TO_REMIT_BINARY [DATABASE_URL] [MESSAGES]

Seeds the demo trust (a fresh SQLite file unless a database URL is given), serves it with `--mllp-listen`, admits
one patient, then sends MESSAGES A08 updates and A02 transfers in turn (default 2000) and prints messages a second.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

from hl7.client import MLLPClient


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    remit = os.path.abspath(sys.argv[1])
    url = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else f"sqlite://{tempfile.mkdtemp(prefix='remit-hl7-load-')}/remit.db"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    env = dict(os.environ, REMIT_DATABASE_URL=url)
    subprocess.run([remit, "demo", "--seed-only"], env=env, check=True, stdout=subprocess.DEVNULL)
    port, mllp = free_port(), free_port()
    server = subprocess.Popen([remit, "serve", "--listen", f"127.0.0.1:{port}", "--mllp-listen", f"127.0.0.1:{mllp}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", mllp)).close()
                break
            except OSError:
                time.sleep(0.1)
        head = "MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206101500||ADT^{e}^ADT_A01|{id}|P|2.5.1\r"
        pid = "PID|1||9990001006^^^NHS^NH||Rahman^Aisha||19580412|F\r"
        with MLLPClient("127.0.0.1", mllp) as c:
            c.send_message(head.format(e="A01", id="LOAD-0") + pid + "PV1|1|I|ward-7^^1\r")
            start = time.perf_counter()
            for i in range(1, n + 1):
                if i % 2:
                    body = head.format(e="A08", id=f"LOAD-{i}") + pid
                else:
                    ward = "ward-9" if i % 4 else "ward-7"
                    body = head.format(e="A02", id=f"LOAD-{i}") + pid + f"PV1|1|I|{ward}^^{i % 20 + 1}\r"
                ack = c.send_message(body).decode()
                assert "MSA|AA|" in ack, ack
            took = time.perf_counter() - start
        print(f"{n} ADT messages (A08 and A02 in turn) in {took:.2f} s: {n / took:.0f} a second, one connection")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
