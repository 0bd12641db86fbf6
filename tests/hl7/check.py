"""remit's ADT feed (HL7 v2 over MLLP) driven by an independent HL7 v2 implementation: the `hl7` package's MLLP
client sends the messages a patient administration system would, its parser reads remit's acknowledgements, and the
result is read back through remit's FHIR API.

Usage: python tests/hl7/check.py PATH_TO_REMIT_BINARY

It seeds the demo trust into a fresh SQLite file, serves it with `--mllp-listen` on free loopback ports, and exits
non-zero at the first answer that is not what HL7 v2 and remit's README say it should be.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import hl7
from hl7.client import MLLPClient

NEW = "9990001006"  # a valid NHS number the demo trust does not hold
MARGARET = "9990001375"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message(event, control_id, *segments):
    head = [
        f"MSH|^~\\&|PAS|RTH|REMIT|RTH|20261206101500||ADT^{event}^ADT_A01|{control_id}|P|2.5.1",
        f"EVN|{event}|20261206101500",
    ]
    return "\r".join(head + list(segments)) + "\r"


def pid(nhs):
    return f"PID|1||{nhs}^^^NHS^NH||Rahman^Aisha^^^Mrs||19580412|F"


def ack(client, text):
    """Sends a message and reads the ACK with hl7's parser: (MSA-1, MSA-2, the whole text, ERR-3.1)."""
    raw = client.send_message(text)
    answer = hl7.parse(raw.decode().strip("\x0b\x1c\r"))
    assert str(answer.segment("MSH")[9][0][0]) == "ACK", str(answer)
    msa = answer.segment("MSA")
    try:
        err = answer.segment("ERR")
        whole, code = answer.unescape(str(err[8])), str(err[3][0][0])
    except KeyError:
        whole, code = str(msa[3]), None
    return str(msa[1]), str(msa[2]), whole, code


def fhir(base, token, path):
    req = urllib.request.Request(base + path)
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read())


def main():
    remit = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="remit-hl7-check-")
    env = dict(os.environ, REMIT_DATABASE_URL=f"sqlite://{work}/remit.db")
    subprocess.run([remit, "demo", "--seed-only"], env=env, check=True, stdout=subprocess.DEVNULL)
    ben, priya = (subprocess.run([remit, "token", "create", "--staff", who], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()[-1]
                  for who in ("ben.rn", "priya.rn"))
    port, mllp = free_port(), free_port()
    server = subprocess.Popen([remit, "serve", "--listen", f"127.0.0.1:{port}", "--mllp-listen",
                               f"127.0.0.1:{mllp}"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    checked = 0
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health")
                socket.create_connection(("127.0.0.1", mllp)).close()
                break
            except OSError:
                time.sleep(0.1)
        with MLLPClient("127.0.0.1", mllp) as client:
            admit = message("A01", "CHK-1", pid(NEW), "PV1|1|I|ward-9^^4||||||||||||||||V0042")
            code, control, text, _ = ack(client, admit)
            assert (code, control) == ("AA", "CHK-1"), text
            assert text == f"patient {NEW} added, in ward-9", text
            # A replay is acknowledged and not applied again.
            code, _, text, _ = ack(client, admit)
            assert code == "AA" and "replay" in text, text
            stays = fhir(base, ben, f"/fhir/Encounter?patient=Patient/{NEW}")
            assert stays["total"] == 1 and stays["entry"][0]["resource"]["status"] == "in-progress", stays

            # A ward remit does not know: AE, with the reason in ERR and HL7 error code 103.
            code, _, text, err = ack(client, message("A02", "CHK-2", pid(NEW), "PV1|1|I|ward-99"))
            assert code == "AE" and err == "103" and "ward-99" in text, (code, err, text)
            # A bad NHS number check digit: AE, 102.
            code, _, text, err = ack(client, message("A01", "CHK-3", pid("9990001007"), "PV1|1|I|ward-9"))
            assert code == "AE" and err == "102" and "check digit" in text, (code, err, text)
            # An event remit does not take: AR.
            code, _, text, err = ack(client, message("A05", "CHK-4", pid(NEW)))
            assert code == "AR" and err == "201", (code, err, text)

            # Moved, then discharged.
            code, _, text, _ = ack(client, message("A02", "CHK-5", pid(NEW), "PV1|1|I|ward-7^^9"))
            assert code == "AA" and "to ward-7" in text, text
            code, _, text, _ = ack(client, message("A03", "CHK-6", pid(NEW), "PV1|1|I|ward-7^^9"))
            assert code == "AA" and "discharged" in text, text
            checked += 7
        # Ward 7's nurse reads the stay that ended there (Ward 9's may no longer).
        stays = fhir(base, priya, f"/fhir/Encounter?patient=Patient/{NEW}")
        stay = stays["entry"][0]["resource"]
        assert stay["status"] == "finished" and "end" in stay["period"], stay
        assert "Ward 7" in stay["location"][0]["location"]["display"], stay
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"HL7 check: {checked} messages sent with the hl7 package's MLLP client, each ACK read by its parser")


if __name__ == "__main__":
    main()
