// Checks each timeline entry in the browser, trusting nothing the page says:
// the entry's bytes hash to a leaf (RFC 9162: SHA-256 over 0x00 || entry), the
// inclusion proof leads from that leaf to the root of a signed tree head, and the
// head's Ed25519 signature verifies under the log's public key (WebCrypto).
"use strict";

const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

const leafHash = (entry) => sha256(concat(new Uint8Array([0]), entry));
const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

function same(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// RFC 9162, section 2.1.3.2: verifying an inclusion proof.
async function rootFromProof(leaf, index, size, path) {
  if (index >= size) return null;
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of path) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

async function headSigned(head, publicKey) {
  const message = new TextEncoder().encode(
    `${head.origin}\n${head.size}\n${head.root}\n${head.timestamp}\n`);
  const key = await crypto.subtle.importKey("raw", bytes(publicKey), { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, bytes(head.signature), message);
}

async function verify(item) {
  const status = item.querySelector(".proof");
  const index = Number(item.dataset.index);
  try {
    const answer = await fetch(`/portal/proof?index=${index}`, { credentials: "same-origin" });
    if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
    const proof = await answer.json();
    const leaf = await leafHash(bytes(proof.entry));
    const root = await rootFromProof(leaf, proof.index, proof.head.size, proof.path.map(bytes));
    if (root === null || !same(root, bytes(proof.head.root))) throw new Error("the proof does not lead to the signed root");
    if (!(await headSigned(proof.head, proof.public_key))) throw new Error("the signature on the log's head is wrong");
    const entry = JSON.parse(new TextDecoder().decode(bytes(proof.entry)));
    if (entry.i !== index) throw new Error("the entry is not the one shown");
    status.dataset.state = "verified";
    status.textContent = `Verified by your browser: entry ${index} is in our signed log of ${proof.head.size} entries.`;
  } catch (problem) {
    status.dataset.state = "failed";
    status.textContent = `Could not verify entry ${index}: ${problem.message}.`;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  for (const item of document.querySelectorAll(".timeline li[data-index]")) {
    await verify(item);  // one after another: the server signs at most one new head
  }
});
