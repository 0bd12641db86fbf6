"""remit's FHIR API checked by independent code: every resource the server returns is validated with the
`fhir.resources` R4B models, and the API is driven with the `fhirpy` client and, from Node.js, `fhir-kit-client`
(tests/fhir/kit.mjs).

Usage: python tests/fhir/check.py PATH_TO_REMIT_BINARY

It seeds the demo trust into a fresh SQLite file, serves it on a free loopback port, and exits non-zero on the first
resource that does not validate or answer that is not what FHIR says it should be.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from fhir.resources.R4B import get_fhir_model_class
from fhirpy import SyncFHIRClient

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
MARGARET = "9990001375"

checked = 0


def validate(resource):
    """Validates a resource (and each resource in a Bundle) against the R4B model."""
    global checked
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    checked += 1
    for entry in resource.get("entry", []):
        if "resource" in entry:
            validate(entry["resource"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/fhir+json")
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def observation(code, when, **value):
    o = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"identifier": {"system": NHS, "value": MARGARET}},
        "effectiveDateTime": when,
    }
    o.update(value)
    return o


def qty(v, unit):
    return {"value": v, "unit": unit, "system": UCUM, "code": unit}


def transaction(when):
    bp = [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": qty(105, "mm[Hg]")},
          {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": qty(65, "mm[Hg]")}]
    resources = [
        observation("9279-1", when, valueQuantity=qty(25, "/min")),
        observation("59408-5", when, valueQuantity=qty(93, "%")),
        observation("3151-8", when, valueQuantity=qty(0, "L/min")),
        observation("85354-9", when, component=bp),
        observation("8867-4", when, valueQuantity=qty(105, "/min")),
        observation("67775-7", when, valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA9340-6"}]}),
        observation("8310-5", when, valueQuantity=qty(37.5, "Cel")),
    ]
    for r in resources:
        validate(r)
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in resources]}
    validate(bundle)
    return bundle


def main():
    remit = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="remit-fhir-check-")
    env = dict(os.environ, REMIT_DATABASE_URL=f"sqlite://{work}/remit.db")
    subprocess.run([remit, "demo", "--seed-only"], env=env, check=True, stdout=subprocess.DEVNULL)
    tokens = {}
    for user in ("alex.ap", "sam.hca", "dr.okafor", "tom.rad"):
        out = subprocess.run([remit, "token", "create", "--staff", user], env=env, check=True,
                             capture_output=True, text=True).stdout
        tokens[user] = out.split()[-1]
    port = free_port()
    server = subprocess.Popen([remit, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health")
                break
            except OSError:
                time.sleep(0.1)
        alex = tokens["alex.ap"]
        when = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

        status, meta = request(base, alex, "GET", "/fhir/metadata")
        assert status == 200, meta
        validate(meta)

        status, resp = request(base, alex, "POST", "/fhir", transaction(when))
        assert status == 200, resp
        validate(resp)
        total = resp["entry"][-1]["resource"]
        assert total["valueInteger"] == 7, total
        for entry in resp["entry"]:
            status, obs = request(base, alex, "GET", "/fhir/" + entry["response"]["location"])
            assert status == 200, obs
            validate(obs)
        # Each Observation's history is a history Bundle that validates.
        rr = resp["entry"][0]["response"]["location"].split("/_history")[0]
        status, history = request(base, alex, "GET", f"/fhir/{rr}/_history")
        assert status == 200 and history["type"] == "history", history
        validate(history)
        # Posted again with ifNoneExist on each entry, as after a timeout: answered 200 OK, recorded once.
        retry = transaction(when)
        for e in retry["entry"]:
            code = e["resource"]["code"]["coding"][0]["code"]
            e["request"]["ifNoneExist"] = f"patient=Patient/{MARGARET}&code={code}&date=eq{when}"
        validate(retry)
        status, again = request(base, alex, "POST", "/fhir", retry)
        assert status == 200 and again["entry"][0]["response"]["status"] == "200 OK", again
        assert again["entry"][0]["response"]["location"] == resp["entry"][0]["response"]["location"], again

        # Errors are OperationOutcomes that validate too.
        bad = transaction(when)
        bad["entry"][0]["resource"]["code"]["coding"][0]["code"] = "0000-0"
        status, outcome = request(base, alex, "POST", "/fhir", bad)
        assert status == 422, outcome
        validate(outcome)
        status, outcome = request(base, tokens["sam.hca"], "POST", "/fhir", transaction(when))
        assert status == 403 and len(outcome["issue"]) >= 1, outcome
        validate(outcome)

        # The client library: search observations and patients, read one, create one.
        client = SyncFHIRClient(base + "/fhir", authorization=f"Bearer {alex}")
        found = client.resources("Observation").search(
            patient=f"Patient/{MARGARET}", code=f"{LOINC}|9279-1", date="ge2000-01-01").sort("-date").limit(5).fetch()
        assert found and all(o["code"]["coding"][0]["code"] == "9279-1" for o in found), found
        for o in found:
            validate(o.serialize())
        patients = client.resources("Patient").search(identifier=f"{NHS}|{MARGARET}").fetch()
        assert len(patients) == 1 and patients[0]["name"][0]["family"] == "Hughes"
        validate(patients[0].serialize())
        # Her stay, as an Encounter: searched with fhirpy, read back by id.
        stays = client.resources("Encounter").search(patient=f"Patient/{MARGARET}", status="in-progress").fetch()
        assert len(stays) == 1 and stays[0]["class"]["code"] == "IMP", stays
        validate(stays[0].serialize())
        status, stay = request(base, alex, "GET", f"/fhir/Encounter/{stays[0]['id']}")
        assert status == 200 and stay["subject"]["reference"] == f"Patient/{MARGARET}", stay
        validate(stay)
        # A lone sign is a set only if it is consciousness, which can always be assessed; a lone pulse is refused.
        status, outcome = request(base, alex, "POST", "/fhir/Observation",
                                  observation("8867-4", when, valueQuantity=qty(88, "/min")))
        assert status == 422 and "consciousness" in json.dumps(outcome), outcome
        validate(outcome)
        one = client.resource("Observation", **observation(
            "67775-7", when, valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA9340-6"}]}))
        one.save()
        assert one.id, "the created Observation has an id"
        validate(one.serialize())
        read = client.reference("Observation", one.id).to_resource()
        validate(read.serialize())
        tasks = client.resources("Task").search(owner="alex.ap").fetch()
        for t in tasks:
            validate(t.serialize())

        # X-ray referrals and the clinical line: ServiceRequest, Condition, MedicationRequest.
        doctor = SyncFHIRClient(base + "/fhir", authorization=f"Bearer {tokens['dr.okafor']}")
        sr = doctor.resource("ServiceRequest", status="active", intent="order",
                             code={"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
                             subject={"reference": "Patient/9990002746"},
                             reasonCode=[{"text": "Fever and crackles: ? pneumonia"}])
        validate(sr.serialize())
        sr.save()
        validate(doctor.reference("ServiceRequest", sr.id).to_resource().serialize())
        status, john = request(base, tokens["tom.rad"], "GET", "/fhir/ServiceRequest/1")
        assert status == 200, john
        validate(john)
        condition = {"resourceType": "Condition", "subject": {"reference": "Patient/9990002746"},
                     "code": {"text": "Community-acquired pneumonia"}}
        validate(condition)
        status, refused = request(base, alex, "POST", "/fhir/Condition", condition)
        assert status == 403, refused
        validate(refused)
        status, created = request(base, tokens["dr.okafor"], "POST", "/fhir/Condition", condition)
        assert status == 201, created
        validate(created)
        med = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "medicationCodeableConcept": {"text": "Amoxicillin"}, "subject": {"reference": "Patient/9990002746"},
               "dosageInstruction": [{"route": {"text": "oral"}, "timing": {"code": {"text": "three times a day"}},
                                      "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]}
        validate(med)
        status, refused = request(base, alex, "POST", "/fhir/MedicationRequest", med)
        assert status == 403, refused
        validate(refused)
        status, created = request(base, tokens["dr.okafor"], "POST", "/fhir/MedicationRequest", med)
        assert status == 201, created
        validate(created)

        # Every resource remit writes, read and searched as the specification says, through fhirpy.
        found = doctor.resources("MedicationRequest").search(patient="Patient/9990002746", status="active").fetch()
        assert [m.id for m in found] == [created["id"]], found
        validate(doctor.reference("MedicationRequest", created["id"]).to_resource().serialize())
        conditions = doctor.resources("Condition").search(patient="Patient/9990002746").fetch()
        assert len(conditions) == 1, conditions
        validate(conditions[0].serialize())
        requests = doctor.resources("ServiceRequest").search(patient="Patient/9990002746",
                                                              code="urn:remit:examination|chest-pa").fetch()
        assert sr.id in [r.id for r in requests], requests
        # A comma is OR; a repeated parameter AND (fhirpy repeats the key for a list).
        either = client.resources("Observation").search(patient=f"Patient/{MARGARET}",
                                                        code="9279-1,8867-4").limit(1000).fetch()
        assert {o["code"]["coding"][0]["code"] for o in either} == {"9279-1", "8867-4"}, either
        neither = client.resources("Observation").search(patient=f"Patient/{MARGARET}",
                                                         code=["9279-1", "8867-4"]).fetch()
        assert neither == [], neither
        both = client.resources("Observation").search(patient=f"Patient/{MARGARET}", date__ge="2000-01-01",
                                                      date__lt="2000-01-02").fetch()
        assert both == [], both
        # Paging through every next link: each Observation once.
        every = client.resources("Observation").search(patient=f"Patient/{MARGARET}").limit(7).fetch_all()
        ids = [o.id for o in every]
        assert len(ids) == len(set(ids)) and len(ids) > 7, len(ids)
        status, counted = request(base, alex, "GET", f"/fhir/Observation?patient=Patient/{MARGARET}&_summary=count")
        assert status == 200 and counted["total"] == len(ids) and "entry" not in counted, counted
        validate(counted)
        # The escalation the transaction above raised, as a Flag.
        flags = client.resources("Flag").search(patient=f"Patient/{MARGARET}", status="active").fetch()
        assert flags and flags[0]["code"]["coding"][0]["code"] == "emergency", flags
        for f in flags:
            validate(f.serialize())
        validate(client.reference("Flag", flags[0].id).to_resource().serialize())
        # Bundles with their links and includes validate as a whole.
        status, bundle = request(base, alex, "GET",
                                 f"/fhir/Observation?patient=Patient/{MARGARET}&_count=2&_include=Observation:patient")
        assert status == 200 and any(l["relation"] == "next" for l in bundle["link"]), bundle
        validate(bundle)
        status, outcome = request(base, alex, "GET", f"/fhir/Observation?patient=Patient/{MARGARET}&colour=red")
        assert status == 400, outcome
        validate(outcome)
        # Staff as Practitioner and PractitionerRole.
        okafor = doctor.reference("Practitioner", "dr.okafor").to_resource()
        assert any(i["system"] == "https://fhir.hl7.org.uk/Id/gmc-number" for i in okafor["identifier"]), okafor
        validate(okafor.serialize())
        roles = client.resources("PractitionerRole").search(location="urn:remit:place|ward-7") \
            .include("PractitionerRole", "practitioner").fetch_raw()
        validate(roles)
        assert any(e["resource"]["id"] == "alex.ap" for e in roles["entry"]), roles
        # The CapabilityStatement needs no token.
        with urllib.request.urlopen(base + "/fhir/metadata") as res:
            validate(json.loads(res.read()))

        # A second client, in another language: fhir-kit-client (Node.js) drives the same API.
        node = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kit.mjs")
        subprocess.run(["node", node, base + "/fhir", alex, tokens["dr.okafor"], MARGARET], check=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"FHIR check passed: {checked} resources validated with fhir.resources (R4B), API driven with fhirpy "
          "and fhir-kit-client")


if __name__ == "__main__":
    main()
