// Checks each timeline entry in the browser, trusting nothing the page says:
// the entry's bytes hash to a leaf (RFC 9162: SHA-256 over 0x00 || entry), the
// inclusion proof leads from that leaf to the root of a signed tree head, and the
// head's Ed25519 signature verifies under the log's public key (WebCrypto).
//
// It also checks the whole log, and remembers it: the public checkpoint must carry the
// log's signature (and, counted, its witnesses' cosignatures, C2SP tlog-cosignature),
// and the checkpoint this browser verified on its last visit, kept in local storage,
// must be the start of the current one (an RFC 9162 consistency proof). A log shown to
// this customer and later rewritten, or a different log shown to someone else and then
// to them, fails here, and the page says so plainly.
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

// RFC 9162, section 2.1.4.2: verifying a consistency proof.
async function consistent(first, second, firstRoot, secondRoot, proof) {
  if (first === second) return proof.length === 0 && same(firstRoot, secondRoot);
  if (first === 0 || first > second || proof.length === 0) return false;
  const path = [...proof];
  if ((first & (first - 1)) === 0) path.unshift(firstRoot);
  let fn = BigInt(first - 1), sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && same(fr, firstRoot) && same(sr, secondRoot);
}

const utf8 = (text) => new TextEncoder().encode(text);
const toB64 = (data) => btoa(String.fromCharCode(...data));

// A C2SP note verifier key: <name>+<hex key id>+<base64(type || Ed25519 key)>.
async function noteKey(vkey) {
  const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
  const name = vkey.slice(0, first), raw = bytes(vkey.slice(second + 1));
  const id = (await sha256(concat(utf8(name + "\n"), raw))).slice(0, 4);
  const hex = Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== vkey.slice(first + 1, second) || raw.length !== 33) throw new Error("a key is damaged");
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, id, type: raw[0], key };
}

// The checkpoint's text, fields and signature lines; the log's signature must verify.
async function openCheckpoint(note, log, witnesses) {
  const split = note.lastIndexOf("\n\n");
  const text = note.slice(0, split + 1);
  const [origin, size, root] = text.split("\n");
  let signed = false, cosigned = 0;
  for (const line of note.slice(split + 2).split("\n").filter(Boolean)) {
    const [dash, name, b64] = line.split(" ");
    if (dash !== "\u2014") continue;
    const raw = bytes(b64), id = raw.slice(0, 4);
    if (name === log.name && same(id, log.id)) {
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, log.key, raw.slice(4), utf8(text)))) {
        throw new Error("the log's signature on its checkpoint is wrong");
      }
      signed = true;
    }
    for (const w of witnesses) {
      if (name !== w.name || !same(id, w.id) || raw.length !== 76) continue;
      const time = new DataView(raw.buffer, raw.byteOffset + 4, 8).getBigUint64(0);
      const message = utf8(`cosignature/v1\ntime ${time}\n${text}`);
      if (await crypto.subtle.verify({ name: "Ed25519" }, w.key, raw.slice(12), message)) cosigned += 1;
    }
  }
  if (!signed) throw new Error("the checkpoint is not signed by the log's key");
  return { origin, size: Number(size), root: bytes(root), cosigned };
}

async function checkLog(box) {
  const state = box.querySelector(".log-state");
  const logKey = box.dataset.logKey;
  const store = `trustable.checkpoint:${logKey.split("+")[0]}`;
  let remembered = null;
  try {
    remembered = JSON.parse(localStorage.getItem(store) || "null");
  } catch (ignored) { remembered = null; }
  try {
    const log = await noteKey(logKey);
    const witnesses = await Promise.all(JSON.parse(box.dataset.witnessKeys).map(noteKey));
    const answer = await fetch("/ledger/checkpoint", { cache: "no-store" });
    if (!answer.ok) throw new Error(`the log answered ${answer.status}`);
    const now = await openCheckpoint(await answer.text(), log, witnesses);
    if (remembered !== null) {
      if (remembered.key !== logKey) throw new Error("the log's key is not the one it had on your last visit");
      const before = bytes(remembered.root);
      if (remembered.size > now.size) throw new Error(`the log had ${remembered.size} entries on your last visit and has ${now.size} now`);
      let proof = [];
      if (remembered.size > 0 && remembered.size < now.size) {
        const asked = await fetch(`/ledger/proof/consistency?first=${remembered.size}&second=${now.size}`);
        if (!asked.ok) throw new Error(`the log would not prove it only grew (${asked.status})`);
        proof = (await asked.json()).proof.map(bytes);
      }
      const grew = remembered.size === 0 || await consistent(remembered.size, now.size, before, now.root, proof);
      if (!grew) throw new Error(`the log of ${remembered.size} entries you saw on your last visit is not the start of the log now`);
    }
    localStorage.setItem(store, JSON.stringify({ key: logKey, size: now.size, root: toB64(now.root), at: new Date().toISOString() }));
    const since = remembered === null
      ? "Your browser keeps this checkpoint, and checks on your next visit that the log only grew."
      : `It only grew since your last visit (${remembered.size} entries then).`;
    const checkedBy = now.cosigned === 1 ? "1 independent witness" : `${now.cosigned} independent witnesses`;
    state.dataset.state = "verified";
    state.textContent = `Checked by your browser: the whole log, ${now.size} entries, is signed by us and checked by ${checkedBy}. ${since}`;
  } catch (problem) {
    const seen = remembered && remembered.at ? ` on ${remembered.at.slice(0, 10)}` : "";
    state.dataset.state = "failed";
    state.textContent = `Warning: your browser could not confirm that our log only grew since you last saw it${seen}: ${problem.message}. ` +
      "This can mean that the record of how your data was used was changed afterwards, or that you are shown a different log than others. " +
      `Keep this page (a screenshot is enough) and report it to ${box.dataset.contact} and to your data protection authority.`;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const box = document.getElementById("log-check");
  if (box) await checkLog(box);
  for (const item of document.querySelectorAll(".timeline li[data-index]")) {
    await verify(item);  // one after another: the server signs at most one new head
  }
});
