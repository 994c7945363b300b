/**
 * @packageDocumentation
 * CURVE certificates: a key pair (Z85) and metadata, generated through `zmq.curveKeyPair()`, read and written in the
 * ZPL files of pyzmq's `zmq.auth.create_certificates` (`NAME.key` and `NAME.key_secret`) and of CZMQ's `zcert`
 * (`NAME` and `NAME_secret`). Both naming schemes are read. A file is a secret certificate when it holds a
 * `secret-key`; such a file that group or others may read is refused, as ssh refuses a private key, unless the caller
 * says otherwise. All functions are synchronous (certificates are read at startup, before any socket exists).
 */
import fs from "node:fs";
import path from "node:path";
import * as zmq from "zeromq";
import { InvalidArgumentError } from "../errors/invalid-argument-error.js";
import { OptionReader, resolveOptions } from "../internal/options.js";
import { curvePublicKeyOf, z85KeyProblem } from "./z85.js";
import { isZplName, parseZpl, quoteZplValue, type ZplNode } from "./zpl.js";

/** A CURVE certificate: the public key, the secret key when this side owns it, and free-form metadata. */
export interface Certificate {
  /** The public key, 40 characters of Z85. */
  readonly publicKey: string;
  /** The secret key, 40 characters of Z85; absent in a public certificate. Never share it. */
  readonly secretKey?: string;
  /** The `metadata` section: names (ZPL names: letters, digits and `$-_@.&+/`) to string values. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The two file layouts: pyzmq's (`NAME.key`, `NAME.key_secret`) and CZMQ's zcert (`NAME`, `NAME_secret`). */
export type CertificateFormat = "pyzmq" | "czmq";

/** Options of {@link writeCertificate}. */
export interface WriteCertificateOptions {
  /** The file names: `"pyzmq"` (default) writes `NAME.key` and `NAME.key_secret`, `"czmq"` writes `NAME` and `NAME_secret`. */
  readonly format?: CertificateFormat;
}

/** Options of {@link readCertificate}. */
export interface ReadCertificateOptions {
  /**
   * Accept a secret certificate that group or others may read (mode wider than 0600). Off by default: such a file is
   * refused with the `chmod 600` to run. pyzmq writes its files with the process umask, often 0644.
   */
  readonly allowInsecurePermissions?: boolean;
}

/** The paths {@link writeCertificate} wrote. */
export interface CertificateFiles {
  /** The public certificate: give it to peers (an allow-list directory, a client's `serverKey`). */
  readonly publicFile: string;
  /** The secret certificate, mode 0600: keep it on this machine. */
  readonly secretFile: string;
}

/** Files larger than this are not certificates (a certificate is a few hundred bytes). */
const MAX_CERTIFICATE_BYTES = 64 * 1024;

/**
 * A new certificate: a fresh key pair from `zmq.curveKeyPair()` (libzmq's CURVE, Curve25519) and `metadata`.
 *
 * @param metadata - optional names and values for the `metadata` section (for example `{ name: "billing" }`); names
 *   must be ZPL names (letters, digits and `$-_@.&+/`), values printable text.
 * @throws {@link InvalidArgumentError} for metadata that cannot be written as ZPL.
 *
 * @example
 * ```ts
 * const server = generateCertificate({ name: "billing-server" });
 * writeCertificate("/etc/billing/curve", "server", server); // server.key, server.key_secret (0600)
 * ```
 */
export function generateCertificate(metadata?: Record<string, string>): Certificate {
  const checked = checkMetadata("generateCertificate", metadata);
  const { publicKey, secretKey } = zmq.curveKeyPair();
  return Object.freeze({ publicKey, secretKey, metadata: checked });
}

/**
 * Writes `cert` as a pair of ZPL files in `dir` (created if missing): a public certificate and a secret one, named
 * as pyzmq names them (`NAME.key`, `NAME.key_secret`, the default) or as CZMQ's zcert does (`NAME`, `NAME_secret`).
 * Both files hold the `metadata` section and a `curve` section with `public-key`; the secret one adds `secret-key`.
 *
 * The secret file is created with mode 0600 whatever the umask. Each file is written to a temporary file in `dir`
 * and renamed into place, so a reader never sees half a certificate, and an existing pair is replaced (as pyzmq and
 * CZMQ do): the old secret key is gone.
 *
 * @param dir - the directory to write into.
 * @param name - the base name: no path separator, not `.` or `..`; in the czmq format it may not end in `_secret`.
 * @param cert - a certificate with its `secretKey` (from {@link generateCertificate} or {@link readCertificate}).
 * @param options - {@link WriteCertificateOptions}.
 * @returns the two paths ({@link CertificateFiles}).
 * @throws {@link InvalidArgumentError} for a bad name, a certificate without a secret key, keys that are not Z85 or
 *   do not belong together, or metadata ZPL cannot hold. File-system errors (EACCES, ...) are thrown as they are.
 *
 * @example
 * ```ts
 * const { publicFile, secretFile } = writeCertificate("certs", "client", generateCertificate(), { format: "czmq" });
 * ```
 */
export function writeCertificate(
  dir: string,
  name: string,
  cert: Certificate,
  options?: WriteCertificateOptions,
): CertificateFiles {
  const where = "writeCertificate";
  const args = new OptionReader(where, { dir, name, cert });
  requiredString(args, "dir", "a directory path");
  const { format } = resolveOptions(where, options, (read) => ({
    format: read.oneOf<CertificateFormat>("format", ["pyzmq", "czmq"], "pyzmq"),
  }));
  checkName(args, name, format);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked at run time: callers may be untyped JavaScript
  if (cert === null || typeof cert !== "object") throw args.fail("cert", "a Certificate (see generateCertificate)", cert);
  const keys = new OptionReader(where, cert, "cert.");
  const publicKey = checkKey(keys, "publicKey");
  if (cert.secretKey === undefined) {
    throw new InvalidArgumentError(
      `${where}: \`cert\` has no \`secretKey\`, so there is no secret certificate to write. Write a pair from ` +
        "generateCertificate() or from a secret certificate read with readCertificate().",
    );
  }
  const secretKey = checkKey(keys, "secretKey");
  if (curvePublicKeyOf(secretKey) !== publicKey) {
    throw new InvalidArgumentError(
      `${where}: \`cert.secretKey\` does not belong to \`cert.publicKey\`; they are from different key pairs.`,
    );
  }
  const metadata = checkMetadata(where, cert.metadata);

  const files: CertificateFiles =
    format === "pyzmq"
      ? { publicFile: path.join(dir, `${name}.key`), secretFile: path.join(dir, `${name}.key_secret`) }
      : { publicFile: path.join(dir, name), secretFile: path.join(dir, `${name}_secret`) };
  fs.mkdirSync(dir, { recursive: true });
  const created = new Date().toISOString();
  writeAtomically(files.publicFile, render(PUBLIC_BANNER, created, metadata, publicKey, undefined), 0o644, false);
  writeAtomically(files.secretFile, render(SECRET_BANNER, created, metadata, publicKey, secretKey), 0o600, true);
  return Object.freeze(files);
}

const PUBLIC_BANNER = [
  "ZeroMQ CURVE Public Certificate",
  "Give this file to the peers that must recognise this key: an allow-list",
  "directory, or a client that connects to this server. Check its contents",
  "after exchanging it over an untrusted route.",
];

const SECRET_BANNER = [
  "ZeroMQ CURVE **Secret** Certificate",
  "DO NOT GIVE THIS FILE TO ANYONE, nor widen its permissions (keep it 0600).",
];

function render(
  banner: readonly string[],
  created: string,
  metadata: Readonly<Record<string, string>>,
  publicKey: string,
  secretKey: string | undefined,
): string {
  const lines = [`   ****  Generated on ${created} by typed-zmq  ****`, ...banner].map((line) => `#   ${line}`.trimEnd());
  lines.push("", "metadata");
  for (const [key, value] of Object.entries(metadata)) lines.push(`    ${key} = ${quoteZplValue(value)!}`);
  lines.push("curve", `    public-key = "${publicKey}"`);
  if (secretKey !== undefined) lines.push(`    secret-key = "${secretKey}"`);
  return `${lines.join("\n")}\n`;
}

/** Writes `text` to a hidden temporary file next to `file` with `mode`, then renames it over `file`. */
function writeAtomically(file: string, text: string, mode: number, forceMode: boolean): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(temporary, "wx", mode);
  try {
    try {
      // The umask narrows the creation mode; fchmod sets it exactly (0600 stays 0600 under umask 0277 or 0000).
      if (forceMode) fs.fchmodSync(fd, mode);
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Reads a certificate file: a public or a secret one, written by pyzmq (`NAME.key`, `NAME.key_secret`), CZMQ's zcert
 * (`NAME`, `NAME_secret`) or {@link writeCertificate}. The file is parsed as ZPL (RFC 4: `#` comments, 4-space
 * indentation, quoted or bare values); it must have a `curve` section with a 40-character Z85 `public-key`, and may
 * have a `secret-key` (which must belong to the public key) and a `metadata` section. Other sections are ignored.
 *
 * A file holding a `secret-key` whose mode lets group or others in (anything beyond 0600, checked on POSIX systems)
 * is refused, with the `chmod 600` to run, unless `allowInsecurePermissions` is true.
 *
 * @param file - the certificate file; exactly this file is read (reading `NAME` does not look for `NAME_secret`).
 * @param options - {@link ReadCertificateOptions}.
 * @returns the certificate: `secretKey` is present when the file is a secret certificate.
 * @throws {@link InvalidArgumentError} naming the file (and the line, for a syntax error or a bad key) when the file
 *   cannot be read, is not a certificate, or is a secret certificate with open permissions.
 *
 * @example
 * ```ts
 * const server = readCertificate("/etc/billing/curve/server.key_secret"); // { publicKey, secretKey, metadata }
 * const peer = readCertificate("/etc/billing/curve/clients/alice.key");   // { publicKey, metadata }
 * ```
 */
export function readCertificate(file: string, options?: ReadCertificateOptions): Certificate {
  const where = "readCertificate";
  requiredString(new OptionReader(where, { file }), "file", "a certificate file path");
  const { allowInsecure } = resolveOptions(where, options, (read) => ({
    allowInsecure: read.flag("allowInsecurePermissions", false),
  }));
  const { text, mode } = readSmallFile(where, file);
  const cert = parseCertificate(text, `${where}: ${file}`);
  if (cert.secretKey !== undefined && !allowInsecure && process.platform !== "win32" && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new InvalidArgumentError(
      `${where}: ${file} holds a secret key, but its permissions (${octal}) let group or others read it. ` +
        `Run: chmod 600 ${shellQuote(file)} (pyzmq writes certificates with the process umask, often giving 0644), ` +
        "or pass { allowInsecurePermissions: true } to accept it.",
    );
  }
  return cert;
}

/**
 * The public keys of every public certificate in `dir` (not its subdirectories), in both naming schemes, without
 * duplicates, in file-name order: the allow-list a server derives from a directory of its clients' certificates.
 *
 * Ignored: secret certificates (a file named `*_secret`, or any file holding a `secret-key`), hidden files (`.*`),
 * editor backups (`*~`), subdirectories, and files that are not certificates (a README, ...). A file named `*.key`
 * must be a valid certificate: one that is not is an error rather than a key silently missing from the list.
 *
 * @param dir - the directory.
 * @returns the Z85 public keys.
 * @throws {@link InvalidArgumentError} when `dir` is not a readable directory, or a `*.key` file is not a certificate.
 *
 * @example
 * ```ts
 * const allowed = readPublicKeys("/etc/billing/curve/clients"); // ["rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", ...]
 * ```
 */
export function readPublicKeys(dir: string): string[] {
  const where = "readPublicKeys";
  requiredString(new OptionReader(where, { dir }), "dir", "a directory path");
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (error) {
    throw new InvalidArgumentError(`${where}: cannot list ${dir}: ${reason(error)}. Pass a directory of public certificates.`, {
      cause: error,
    });
  }
  const keys = new Set<string>();
  for (const name of names) {
    if (name.startsWith(".") || name.endsWith("~") || name.endsWith("_secret")) continue;
    const file = path.join(dir, name);
    const required = name.endsWith(".key");
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (error) {
      if (required) throw new InvalidArgumentError(`${where}: cannot read ${file}: ${reason(error)}.`, { cause: error });
      continue;
    }
    if (!stat.isFile()) continue;
    if (!required && stat.size > MAX_CERTIFICATE_BYTES) continue;
    let cert: Certificate;
    try {
      const { text } = readSmallFile(where, file);
      cert = parseCertificate(text, `${where}: ${file}`);
    } catch (error) {
      if (required) throw error;
      continue;
    }
    if (cert.secretKey === undefined) keys.add(cert.publicKey);
  }
  return [...keys];
}

/** The text and mode of `file`, read through one descriptor (the mode checked is the file read). */
function readSmallFile(where: string, file: string): { text: string; mode: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (error) {
    throw new InvalidArgumentError(`${where}: cannot read ${file}: ${reason(error)}.`, { cause: error });
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new InvalidArgumentError(`${where}: ${file} is not a file; pass a certificate file.`);
    if (stat.size > MAX_CERTIFICATE_BYTES) {
      throw new InvalidArgumentError(
        `${where}: ${file} is ${stat.size} bytes, too large for a certificate (at most ${MAX_CERTIFICATE_BYTES}).`,
      );
    }
    return { text: fs.readFileSync(fd, "utf8"), mode: stat.mode };
  } finally {
    fs.closeSync(fd);
  }
}

/** The certificate in ZPL `text`; `where` (the function and the file) starts every error. */
function parseCertificate(text: string, where: string): Certificate {
  const root = parseZpl(text, where);
  const curve = single(root, "curve", where);
  const metadataSection = single(root, "metadata", where);
  if (curve === undefined) {
    throw new InvalidArgumentError(
      `${where}: no \`curve\` section, so this is not a CURVE certificate. A certificate (pyzmq, CZMQ) has a line ` +
        '`curve` and under it, indented 4 spaces, `public-key = "<40 Z85 characters>"`.',
    );
  }
  const publicNode = single(curve, "public-key", where);
  if (publicNode === undefined) {
    throw new InvalidArgumentError(
      `${where} line ${curve.line}: the \`curve\` section has no \`public-key\`; add, indented 4 spaces, ` +
        '`public-key = "<40 Z85 characters>"`.',
    );
  }
  const publicKey = keyOf(publicNode, where);
  const secretNode = single(curve, "secret-key", where);
  const secretKey = secretNode === undefined ? undefined : keyOf(secretNode, where);
  if (secretKey !== undefined && curvePublicKeyOf(secretKey) !== publicKey) {
    throw new InvalidArgumentError(
      `${where} line ${secretNode!.line}: the \`secret-key\` does not belong to the \`public-key\` (line ${publicNode.line}); ` +
        "the file mixes two key pairs. Use the secret certificate written with this public key.",
    );
  }
  const metadata: Record<string, string> = {};
  for (const item of metadataSection?.children ?? []) {
    if (Object.hasOwn(metadata, item.name)) {
      throw new InvalidArgumentError(`${where} line ${item.line}: \`metadata\` has ${JSON.stringify(item.name)} twice.`);
    }
    metadata[item.name] = item.value ?? "";
  }
  const frozen = Object.freeze(metadata);
  return Object.freeze(secretKey === undefined ? { publicKey, metadata: frozen } : { publicKey, secretKey, metadata: frozen });
}

/** The child of `node` named `name`, if any; a second one is an error. */
function single(node: ZplNode, name: string, where: string): ZplNode | undefined {
  const found = node.children.filter((child) => child.name === name);
  if (found.length > 1) {
    throw new InvalidArgumentError(
      `${where} line ${found[1]!.line}: \`${name}\` appears again (first at line ${found[0]!.line}); keep one.`,
    );
  }
  return found[0];
}

function keyOf(node: ZplNode, where: string): string {
  const problem = node.value === undefined ? "has no value" : z85KeyProblem(node.value);
  if (problem !== undefined) throw new InvalidArgumentError(`${where} line ${node.line}: \`${node.name}\` ${problem}.`);
  return node.value!;
}

/** The non-empty string argument `key` of `args`; a missing or empty one is an error. */
function requiredString(args: OptionReader, key: string, expected: string): string {
  const value = args.raw(key);
  if (typeof value !== "string" || value === "") throw args.fail(key, expected, value);
  return value;
}

/** The Z85 key `key` of `keys` (a certificate read as options, so errors say `cert.publicKey`). */
function checkKey(keys: OptionReader, key: string): string {
  const value = requiredString(keys, key, "a 40-character Z85 key");
  const problem = z85KeyProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(`${keys.owner}: \`${keys.name(key)}\` ${problem}.`);
  return value;
}

function checkName(args: OptionReader, name: string, format: CertificateFormat): void {
  const where = args.owner;
  if (typeof name !== "string" || name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw args.fail("name", "a file name without a path separator (the directory is `dir`)", name);
  }
  if (name.startsWith(".")) {
    throw new InvalidArgumentError(
      `${where}: \`name\` ${JSON.stringify(name)} starts with "."; readPublicKeys ignores hidden files.`,
    );
  }
  if (format === "czmq" && name.endsWith("_secret")) {
    throw new InvalidArgumentError(
      `${where}: \`name\` ${JSON.stringify(name)} ends in "_secret", which names CZMQ's secret files; choose another name.`,
    );
  }
}

function checkMetadata(where: string, metadata: unknown): Readonly<Record<string, string>> {
  if (metadata === undefined) return Object.freeze({});
  const read = new OptionReader(where, { metadata });
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw read.fail("metadata", "an object of string values", metadata);
  }
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (!isZplName(key)) {
      throw new InvalidArgumentError(
        `${where}: metadata name ${JSON.stringify(key)} is not a ZPL name; use letters, digits and $-_@.&+/ only.`,
      );
    }
    if (typeof value !== "string" || quoteZplValue(value) === undefined) {
      throw new OptionReader(where, metadata, "metadata.").fail(
        key,
        "printable text without both kinds of quote (ZPL has no escapes)",
        value,
      );
    }
    copy[key] = value;
  }
  return Object.freeze(copy);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `file` as one shell word (single-quoted unless it is plainly safe). */
function shellQuote(file: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(file) ? file : `'${file.replaceAll("'", `'\\''`)}'`;
}
