// remit's FHIR API driven by a second, independent client in another language: fhir-kit-client (Node.js).
// Called by tests/fhir/check.py with the FHIR base URL, a nurse-side token (alex.ap), a doctor's token
// (dr.okafor) and the NHS number of a patient with recorded observations and an open escalation.
//
// Usage: node tests/fhir/kit.mjs BASE ALEX_TOKEN DOCTOR_TOKEN NHS_NUMBER
import assert from 'node:assert/strict';
import { Client } from 'fhir-kit-client';

const [baseUrl, alex, doctor, patient] = process.argv.slice(2);
const asAlex = new Client({ baseUrl, bearerToken: alex });
const asDoctor = new Client({ baseUrl, bearerToken: doctor });

// The CapabilityStatement, read without a token, lists every resource searched below with its parameters.
const cs = await new Client({ baseUrl }).capabilityStatement();
assert.equal(cs.resourceType, 'CapabilityStatement');
const served = Object.fromEntries(cs.rest[0].resource.map((r) => [r.type, r]));
for (const [type, param] of [['Observation', 'date'], ['Task', 'status'], ['Flag', 'status'],
  ['Condition', 'patient'], ['MedicationRequest', 'status'], ['ServiceRequest', 'code']]) {
  assert.ok(served[type]?.searchParam?.some((p) => p.name === param), `${type}?${param} is listed`);
}

// A comma is OR.
const open = await asAlex.search({
  resourceType: 'Task',
  searchParams: { status: 'requested,accepted,in-progress' },
});
assert.equal(open.type, 'searchset');
for (const e of open.entry ?? []) {
  assert.ok(['requested', 'accepted', 'in-progress'].includes(e.resource.status), e.resource.status);
}

// Every page through the next links: each Observation once, as many as the count says.
const counted = await asAlex.search({
  resourceType: 'Observation',
  searchParams: { patient: `Patient/${patient}`, _summary: 'count' },
});
let bundle = await asAlex.search({
  resourceType: 'Observation',
  searchParams: { patient: `Patient/${patient}`, _count: '10' },
});
const ids = [];
while (bundle) {
  for (const e of bundle.entry ?? []) {
    if (e.search?.mode === 'match') ids.push(e.resource.id);
  }
  bundle = (await asAlex.nextPage({ bundle })) ?? null;
}
assert.equal(ids.length, counted.total);
assert.equal(new Set(ids).size, ids.length, 'no Observation twice');

// Dates with prefixes, repeated for a window.
const window = await asAlex.search({
  resourceType: 'Observation',
  searchParams: { patient: `Patient/${patient}`, date: ['ge2000-01-01', 'lt2000-01-02'] },
});
assert.equal(window.total, 0);

// The escalation as a Flag, searched and read.
const flags = await asAlex.search({
  resourceType: 'Flag',
  searchParams: { patient: `Patient/${patient}`, status: 'active', _include: 'Flag:patient' },
});
const flag = flags.entry.find((e) => e.search.mode === 'match').resource;
assert.equal(flag.status, 'active');
assert.ok(flags.entry.some((e) => e.search.mode === 'include' && e.resource.resourceType === 'Patient'));
const read = await asAlex.read({ resourceType: 'Flag', id: flag.id });
assert.equal(read.id, flag.id);

// Diagnoses and prescriptions, searched by the doctor.
const conditions = await asDoctor.search({ resourceType: 'Condition', searchParams: { patient: 'Patient/9990002746' } });
assert.ok(conditions.total >= 1);

// An unknown parameter is refused, unless the client asks for lenient handling.
await assert.rejects(
  asAlex.search({ resourceType: 'Observation', searchParams: { patient: `Patient/${patient}`, colour: 'red' } }),
  (e) => e.response?.status === 400,
);
const lenient = new Client({ baseUrl, bearerToken: alex, customHeaders: { Prefer: 'handling=lenient' } });
const ignored = await lenient.search({
  resourceType: 'Observation',
  searchParams: { patient: `Patient/${patient}`, colour: 'red', _summary: 'count' },
});
assert.equal(ignored.total, counted.total);

console.log(`fhir-kit-client: ${ids.length} Observations paged, ${(open.entry ?? []).length} open tasks, a Flag read`);
