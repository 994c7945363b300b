/**
 * @packageDocumentation
 * ZPL (ZeroMQ RFC 4), the text format of pyzmq's and CZMQ's certificate files: one `name` or `name = value` per
 * line, children indented 4 spaces more than their parent, `#` starts a comment, a value may be enclosed in single or
 * double quotes (with no escapes; a value that opens a quote and never closes it is taken as unquoted). Parsing
 * returns a tree with the line of every property, so that a certificate reader can say where a file is wrong; an
 * error names the file and the line. Not exported from the package's index.
 */
import { InvalidArgumentError } from "../errors/invalid-argument-error.js";

/** One property of a ZPL document. */
export interface ZplNode {
  readonly name: string;
  /** The value after `=`, quotes removed; undefined for a bare name (a section). */
  readonly value: string | undefined;
  /** 1-based line number; 0 for the root. */
  readonly line: number;
  readonly children: ZplNode[];
}

const NAME = /^[A-Za-z0-9$\-_@.&+/]+/;

/** Characters a ZPL name may hold (RFC 4). */
export function isZplName(name: string): boolean {
  const match = NAME.exec(name);
  return match !== null && match[0] === name;
}

/**
 * Parses ZPL `text`. `where` starts every error message (for example `readCertificate: /etc/curve/server.key`);
 * the line number follows it.
 */
export function parseZpl(text: string, where: string): ZplNode {
  const root: ZplNode = { name: "", value: undefined, line: 0, children: [] };
  // stack[d] is the last node seen at depth d - 1 (stack[0] is the root).
  const stack: ZplNode[] = [root];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (problem: string): never => {
      throw new InvalidArgumentError(`${where} line ${line}: ${problem}. The file must be ZPL (ZeroMQ RFC 4).`);
    };
    const indent = /^[ \t]*/.exec(raw)![0];
    const body = raw.slice(indent.length);
    if (body === "" || body.startsWith("#")) return;
    if (indent.includes("\t")) fail("indented with a tab; ZPL indents with 4 spaces per level");
    if (indent.length % 4 !== 0) fail(`indented by ${indent.length} spaces; ZPL indents children by 4 spaces per level`);
    const depth = indent.length / 4;
    if (depth >= stack.length) {
      fail(`indented ${depth} level${depth === 1 ? "" : "s"} deep, but the line above is only at level ${stack.length - 1}`);
    }
    const name = NAME.exec(body)?.[0];
    if (name === undefined) {
      fail(`expected a name (letters, digits and $-_@.&+/), found ${JSON.stringify(body[0])}`);
    }
    const value = parseValue(body.slice(name!.length), name!, fail);
    const node: ZplNode = { name: name!, value, line, children: [] };
    stack[depth]!.children.push(node);
    stack.length = depth + 1;
    stack.push(node);
  });
  return root;
}

/** The value in `rest` (what follows a name): undefined for none, the text after `=` otherwise. */
function parseValue(rest: string, name: string, fail: (problem: string) => never): string | undefined {
  const afterName = rest.trimStart();
  if (afterName === "" || afterName.startsWith("#")) return undefined;
  if (!afterName.startsWith("=")) {
    fail(
      `unexpected ${JSON.stringify(afterName[0])} after the name ${JSON.stringify(name)} (expected "=" or the end of the line)`,
    );
  }
  const text = afterName.slice(1).trimStart();
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    const close = text.indexOf(quote, 1);
    if (close > 0) {
      const trailing = text.slice(close + 1).trimStart();
      if (trailing !== "" && !trailing.startsWith("#")) {
        // Not the text itself: the value may be a secret key.
        fail(`unexpected text after the quoted value of ${JSON.stringify(name)} (${trailing.length} characters)`);
      }
      return text.slice(1, close);
    }
  }
  // Unquoted (or a quote that never closes): up to a comment, trailing whitespace dropped.
  const hash = text.indexOf("#");
  return (hash < 0 ? text : text.slice(0, hash)).trimEnd();
}

/** `value` as a ZPL value: double-quoted, or single-quoted when it holds a double quote; undefined if it cannot be. */
export function quoteZplValue(value: string): string | undefined {
  // Printable characters only: a line ending would end the property, and ZPL has no escapes.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  return undefined;
}
