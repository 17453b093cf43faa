// Verifies Data Integrity (eddsa-jcs-2022) credentials with Digital Bazaar's implementation:
// jsonld-signatures, @digitalbazaar/data-integrity and @digitalbazaar/eddsa-jcs-2022-cryptosuite.
// Input (stdin): {"controllers": [controller documents], "credentials": [credentials]}.
// Output (stdout): one JSON line per credential: {"verified": bool, "error": string|null}.
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import jsigs from 'jsonld-signatures';

const {purposes: {AssertionProofPurpose}} = jsigs;

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

// Offline: only the controller documents and their keys given on stdin resolve.
const documents = new Map();
for (const controller of input.controllers) {
  documents.set(controller.id, controller);
  for (const method of controller.verificationMethod || []) {
    documents.set(method.id, {'@context': 'https://w3id.org/security/multikey/v1', ...method});
  }
}
const documentLoader = async url => {
  const document = documents.get(url) || documents.get(url.split('#')[0]);
  if (!document) throw new Error(`offline loader: ${url} is not given`);
  return {contextUrl: null, documentUrl: url, document: documents.get(url) || document};
};

for (const credential of input.credentials) {
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  try {
    const result = await jsigs.verify(credential, {
      suite, purpose: new AssertionProofPurpose(), documentLoader});
    const error = result.error ? String(result.error.errors?.[0]?.message ||
      result.error.message || result.error) : null;
    console.log(JSON.stringify({verified: result.verified, error}));
  } catch (e) {
    console.log(JSON.stringify({verified: false, error: String(e && e.message || e)}));
  }
}

