/** CURVE certificates: round trips in both file layouts, ZPL edge cases, the secret-file permission rule, readPublicKeys. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import {
  InvalidArgumentError,
  generateCertificate,
  readCertificate,
  readPublicKeys,
  writeCertificate,
  type Certificate,
} from "../../src/index.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "typed-zmq-certs-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

/** Writes `text` to `name` in the test directory with `fileMode` and returns the path. */
function put(name: string, text: string, fileMode = 0o600): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  fs.chmodSync(file, fileMode);
  return file;
}

const pair = zmq.curveKeyPair();

describe("generateCertificate", () => {
  test("a fresh Z85 key pair from libzmq, with metadata, frozen", () => {
    const a = generateCertificate({ name: "billing", "owner@host": "ops team" });
    const b = generateCertificate();
    expect(a.publicKey).toMatch(/^.{40}$/);
    expect(a.secretKey).toMatch(/^.{40}$/);
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(a.metadata).toEqual({ name: "billing", "owner@host": "ops team" });
    expect(b.metadata).toEqual({});
    expect(Object.isFrozen(a) && Object.isFrozen(a.metadata)).toBe(true);
  });

  test("refuses metadata ZPL cannot hold", () => {
    expect(() => generateCertificate({ "bad name": "x" })).toThrow(InvalidArgumentError);
    expect(() => generateCertificate({ "bad name": "x" })).toThrow(/not a ZPL name/);
    expect(() => generateCertificate({ note: "two\nlines" })).toThrow(/`metadata\.note` must be printable text/);
    expect(() => generateCertificate({ note: `it's "both"` })).toThrow(/both kinds of quote/);
    expect(() => generateCertificate({ n: 1 } as unknown as Record<string, string>)).toThrow(/got 1/);
  });
});

describe.each([
  { format: "pyzmq" as const, publicName: "alice.key", secretName: "alice.key_secret" },
  { format: "czmq" as const, publicName: "alice", secretName: "alice_secret" },
])("writeCertificate / readCertificate in the $format layout", ({ format, publicName, secretName }) => {
  test("writes the pair under its names; reading gives the keys and metadata back", () => {
    const cert = generateCertificate({ name: "alice", quote: 'say "hi"', empty: "" });
    const files = writeCertificate(dir, "alice", cert, { format });
    expect(files).toEqual({ publicFile: path.join(dir, publicName), secretFile: path.join(dir, secretName) });
    expect(fs.readdirSync(dir).sort()).toEqual([publicName, secretName].sort());

    const secret = readCertificate(files.secretFile);
    expect(secret).toEqual({ publicKey: cert.publicKey, secretKey: cert.secretKey, metadata: cert.metadata });
    const pub = readCertificate(files.publicFile);
    expect(pub).toEqual({ publicKey: cert.publicKey, metadata: cert.metadata });
    expect("secretKey" in pub).toBe(false);

    const publicText = fs.readFileSync(files.publicFile, "utf8");
    expect(publicText).toContain(`curve\n    public-key = "${cert.publicKey}"\n`);
    expect(publicText).not.toContain("secret-key");
    expect(publicText).toMatch(/^metadata\n {4}name = "alice"\n/m);
    expect(fs.readFileSync(files.secretFile, "utf8")).toContain(`    secret-key = "${cert.secretKey}"\n`);
  });

  test("the secret file is 0600 whatever the umask; the public file follows the umask", () => {
    const previous = process.umask(0o000);
    try {
      const open = writeCertificate(dir, "open", generateCertificate(), { format });
      expect(mode(open.secretFile)).toBe(0o600);
      expect(mode(open.publicFile)).toBe(0o644);
      process.umask(0o277);
      const narrow = writeCertificate(dir, "narrow", generateCertificate(), { format });
      expect(mode(narrow.secretFile)).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  test("replaces an existing pair, also fixing an old secret file's loose mode; leaves no temporary file", () => {
    const first = writeCertificate(dir, "alice", generateCertificate(), { format });
    fs.chmodSync(first.secretFile, 0o644);
    const second = generateCertificate();
    writeCertificate(dir, "alice", second, { format });
    expect(mode(first.secretFile)).toBe(0o600);
    expect(readCertificate(first.secretFile).secretKey).toBe(second.secretKey);
    expect(fs.readdirSync(dir).sort()).toEqual([publicName, secretName].sort());
  });
});

describe("writeCertificate refuses bad input", () => {
  const cert = generateCertificate();
  test.each([
    ["a name with a separator", () => writeCertificate(dir, "a/b", cert), /`name` must be a file name without a path separator/],
    ["an empty name", () => writeCertificate(dir, "", cert), /`name`/],
    ["a hidden name", () => writeCertificate(dir, ".alice", cert), /starts with "\."/],
    ["a czmq name ending in _secret", () => writeCertificate(dir, "x_secret", cert, { format: "czmq" }), /ends in "_secret"/],
    [
      "an unknown format",
      () => writeCertificate(dir, "a", cert, { format: "zcert" as "czmq" }),
      /`format` must be one of "pyzmq", "czmq", got "zcert"/,
    ],
    ["no directory", () => writeCertificate("", "a", cert), /`dir` must be a directory path/],
    ["a public certificate", () => writeCertificate(dir, "a", { publicKey: cert.publicKey, metadata: {} }), /has no `secretKey`/],
    [
      "a short key",
      () => writeCertificate(dir, "a", { ...cert, publicKey: "abc" }),
      /`cert\.publicKey` must be a 40-character Z85 key, got 3 characters/,
    ],
    [
      "a non-Z85 character",
      () => writeCertificate(dir, "a", { ...cert, secretKey: "~".repeat(40) }),
      // The position only, never the character: the text is a secret key.
      /`cert\.secretKey` must be a Z85 key, but character 1 is not in the Z85 alphabet/,
    ],
    [
      "keys of two pairs",
      () => writeCertificate(dir, "a", { ...cert, secretKey: pair.secretKey }),
      /does not belong to `cert\.publicKey`/,
    ],
  ])("%s", (_, write, message) => {
    expect(write).toThrow(InvalidArgumentError);
    expect(write).toThrow(message);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("readCertificate parses ZPL", () => {
  test("comments, blank lines, CRLF, single quotes, bare values, other sections and deeper levels", () => {
    const file = put(
      "hand.key_secret",
      [
        "\uFEFF#  written by hand",
        "",
        "context  # a section we do not use",
        "    iothreads = 1",
        "metadata",
        "    name = Pieter Hintjens      # bare value, inner space kept",
        "    email = 'ph@imatix.com'",
        '    tag = "#1"',
        '    open = "unclosed',
        "    flag",
        "        nested = ignored",
        "curve",
        "    # a comment line inside a section",
        `    public-key = '${pair.publicKey}'   # trailing comment`,
        `    secret-key="${pair.secretKey}"`,
        "",
      ].join("\r\n"),
    );
    expect(readCertificate(file)).toEqual({
      publicKey: pair.publicKey,
      secretKey: pair.secretKey,
      metadata: { name: "Pieter Hintjens", email: "ph@imatix.com", tag: "#1", open: '"unclosed', flag: "" },
    });
  });

  test("a public certificate as CZMQ writes it (no metadata entries, no secret key)", () => {
    const file = put(
      "server",
      `#   ZeroMQ CURVE Public Certificate\n\nmetadata\ncurve\n    public-key = "${pair.publicKey}"\n`,
      0o644,
    );
    expect(readCertificate(file)).toEqual({ publicKey: pair.publicKey, metadata: {} });
  });

  const bad = (text: string): (() => Certificate) => {
    const file = put("bad.key", text, 0o644);
    return () => readCertificate(file);
  };
  const key = pair.publicKey;
  test.each([
    ["a tab indent", `curve\n\tpublic-key = "${key}"\n`, /bad\.key line 2: indented with a tab/],
    ["a 2-space indent", `curve\n  public-key = "${key}"\n`, /bad\.key line 2: indented by 2 spaces/],
    ["an orphan indent", `    curve\n`, /bad\.key line 1: indented 1 level deep, but the line above is only at level 0/],
    ["text after a quoted value", `curve\n    public-key = "${key}" extra\n`, /line 2: unexpected text after the quoted value/],
    ["no '=' after a name", `curve\n    public-key : "${key}"\n`, /line 2: unexpected ":" after the name "public-key"/],
    ["a line that is no name", `curve\n    = "${key}"\n`, /line 2: expected a name/],
    ["no curve section", `metadata\n    name = "x"\n`, /bad\.key: no `curve` section/],
    [
      "no public key",
      `# c\ncurve\n    secret-key = "${pair.secretKey}"\n`,
      /bad\.key line 2: the `curve` section has no `public-key`/,
    ],
    [
      "a short key",
      `curve\n    public-key = "${key.slice(1)}"\n`,
      /line 2: `public-key` must be a 40-character Z85 key, got 39 characters/,
    ],
    ["a key with no value", `curve\n    public-key\n`, /line 2: `public-key` has no value/],
    [
      "an overflowing Z85 group",
      `curve\n    public-key = "${"#".repeat(40)}"\n`,
      /line 2: `public-key` is not valid Z85: characters 1-5 exceed 32 bits/,
    ],
    [
      "two public keys",
      `curve\n    public-key = "${key}"\n    public-key = "${key}"\n`,
      /line 3: `public-key` appears again \(first at line 2\)/,
    ],
    [
      "a repeated metadata name",
      `metadata\n    a = 1\n    a = 2\ncurve\n    public-key = "${key}"\n`,
      /line 3: `metadata` has "a" twice/,
    ],
    [
      "keys of two pairs",
      `curve\n    public-key = "${key}"\n    secret-key = "${zmq.curveKeyPair().secretKey}"\n`,
      /line 3: the `secret-key` does not belong to the `public-key` \(line 2\)/,
    ],
  ])("refuses %s, naming the file and the line", (_, text, message) => {
    const read = bad(text);
    expect(read).toThrow(InvalidArgumentError);
    expect(read).toThrow(message);
    expect(read).toThrow(/ZPL|certificate|key|curve|metadata/);
  });

  test("refuses a missing file, a directory and a huge file with the path in the message", () => {
    expect(() => readCertificate(path.join(dir, "none.key"))).toThrow(/readCertificate: cannot read .*none\.key: ENOENT/);
    expect(() => readCertificate(dir)).toThrow(/is not a file/);
    const huge = put("huge.key", "#".repeat(70_000));
    expect(() => readCertificate(huge)).toThrow(/70000 bytes, too large for a certificate/);
    expect(() => readCertificate("")).toThrow(/`file` must be a certificate file path, got ""/);
    expect(() => readCertificate(put("x", "curve\n"), { allowInsecurePermissions: "yes" as unknown as boolean })).toThrow(
      /`allowInsecurePermissions` must be true or false/,
    );
  });
});

describe.skipIf(process.platform === "win32")("a secret certificate others can read", () => {
  const secretText = `curve\n    public-key = "${pair.publicKey}"\n    secret-key = "${pair.secretKey}"\n`;

  test.each([0o644, 0o640, 0o604, 0o660, 0o602].map((m) => [m.toString(8), m] as const))(
    "mode 0%s is refused with the chmod 600 to run",
    (_, fileMode) => {
      const file = put("server.key_secret", secretText, fileMode);
      const read = (): Certificate => readCertificate(file);
      expect(read).toThrow(InvalidArgumentError);
      expect(read).toThrow(`readCertificate: ${file} holds a secret key, but its permissions (0${fileMode.toString(8)})`);
      expect(read).toThrow(`Run: chmod 600 ${file}`);
      expect(read).toThrow(/allowInsecurePermissions: true/);
    },
  );

  test("accepted with allowInsecurePermissions, and after chmod 600 (or 0400)", () => {
    const file = put("server_secret", secretText, 0o644);
    expect(readCertificate(file, { allowInsecurePermissions: true }).secretKey).toBe(pair.secretKey);
    fs.chmodSync(file, 0o600);
    expect(readCertificate(file).secretKey).toBe(pair.secretKey);
    fs.chmodSync(file, 0o400);
    expect(readCertificate(file).secretKey).toBe(pair.secretKey);
  });

  test("the rule follows the content, not the name: a public certificate may be 0644 under any name", () => {
    const file = put("public.key_secret", `curve\n    public-key = "${pair.publicKey}"\n`, 0o644);
    expect(readCertificate(file)).toEqual({ publicKey: pair.publicKey, metadata: {} });
    const hidden = put("named.key", secretText, 0o644);
    expect(() => readCertificate(hidden)).toThrow(/chmod 600/);
  });

  test("a path with spaces is quoted in the advice", () => {
    const file = put("my server.key_secret", secretText, 0o644);
    expect(() => readCertificate(file)).toThrow(`Run: chmod 600 '${file}'`);
  });
});

describe("readPublicKeys", () => {
  test("every public certificate of both layouts, deduplicated; secrets, hidden files, backups and others ignored", () => {
    const a = writeCertificate(dir, "a", generateCertificate(), { format: "pyzmq" });
    const b = writeCertificate(dir, "b", generateCertificate(), { format: "czmq" });
    const keyA = readCertificate(a.publicFile).publicKey;
    const keyB = readCertificate(b.publicFile).publicKey;
    fs.copyFileSync(a.publicFile, path.join(dir, "a-copy.key"));
    const secretOnly = generateCertificate();
    put("stray-secret.cert", `curve\n    public-key = "${secretOnly.publicKey}"\n    secret-key = "${secretOnly.secretKey}"\n`);
    const hidden = generateCertificate();
    put(".hidden.key", `curve\n    public-key = "${hidden.publicKey}"\n`);
    put("old.key~", `curve\n    public-key = "${generateCertificate().publicKey}"\n`);
    put("README.md", "# Allowed clients\n\nDrop their public certificates here.\n");
    put("notes.txt", "curve\n    public-key = short\n");
    fs.mkdirSync(path.join(dir, "sub.key"));

    expect(readPublicKeys(dir).sort()).toEqual([keyA, keyB].sort());
  });

  test("an empty directory gives no keys", () => {
    expect(readPublicKeys(dir)).toEqual([]);
  });

  test("a broken *.key file is an error naming it, not a key silently missing", () => {
    put("broken.key", 'curve\n    public-key = "abc"\n', 0o644);
    expect(() => readPublicKeys(dir)).toThrow(
      /readPublicKeys: .*broken\.key line 2: `public-key` must be a 40-character Z85 key/,
    );
  });

  test("a directory that is not there is refused", () => {
    expect(() => readPublicKeys(path.join(dir, "missing"))).toThrow(/readPublicKeys: cannot list .*missing: ENOENT/);
    expect(() => readPublicKeys(path.join(dir, "missing"))).toThrow(InvalidArgumentError);
  });
});
