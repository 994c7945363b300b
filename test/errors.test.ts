/**
 * The error classes, checked from what the package exports, so that the table cannot drift: every export of
 * src/index.ts that is an error class gets the same checks, and a class with no row in `samples` fails.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import * as api from "../src/index.js";
import {
  AbortedError,
  ApplicationError,
  ClosedError,
  ConnectionLostError,
  ContractValidationError,
  EndpointInUseError,
  ErrorCode,
  InvalidArgumentError,
  InvalidEndpointError,
  MalformedMessageError,
  MessageTooLargeError,
  NoServerError,
  OutOfRangeError,
  RemoteCallError,
  RemoteError,
  RpcError,
  StoreCorruptError,
  StoreFullError,
  StoreLockedError,
  StoreUnavailableError,
  SubscriberStalledError,
  TaskRejectedError,
  TimeoutError,
  TransportError,
  TransportUnavailableError,
  TypedZmqError,
  UnknownMethodError,
  UnknownTopicError,
  UnrepresentableSchemaError,
  WireErrorCode,
  defineRpc,
  isApplicationError,
  isInvalidArgumentError,
  isOutOfRangeError,
  isRemoteCallError,
  isRemoteError,
  isRpcError,
  isTimeoutError,
  isTransportUnavailableError,
  isTypedZmqError,
  jsonCodec,
} from "../src/index.js";
import type { TypedZmqErrorOptions, ValidationIssue } from "../src/index.js";
import { checkNonNegative } from "../src/internal/options.js";
import { fromZmqError, toError } from "../src/internal/zmq-errors.js";

const issues: readonly ValidationIssue[] = [
  { path: ["items", 0, "price"], code: "invalid_type", message: "Invalid input: expected number, received string" },
];

/** A class the package exports whose instances are typed-zmq errors (`instanceof TypedZmqError`). */
type ErrorClass = abstract new (...args: never[]) => TypedZmqError;

/** How to build one sample of an exported error class, and what it must carry. */
interface Sample {
  /** Builds an instance, passing `options` (with its `cause`) to the constructor. */
  readonly make: (options?: TypedZmqErrorOptions) => TypedZmqError;
  /** The `code` the sample carries. */
  readonly code: string;
  /** The code is chosen by an application (or a remote server), so it need not be in ErrorCode. */
  readonly applicationCode?: true;
  /** RemoteCallError is built from a wire body and takes no options, so it keeps no `cause`. */
  readonly takesCause: boolean;
  /** The built-in error class it extends instead of TypedZmqError, for the misuse errors. */
  readonly builtin?: typeof TypeError | typeof RangeError;
}

/** One row per exported error class, keyed by class name. A new exported class without a row fails below. */
const samples: Readonly<Record<string, Sample>> = {
  ContractValidationError: {
    code: "VALIDATION_FAILED",
    make: (o) =>
      new ContractValidationError(
        'Request to "orders.v1/getOrder" does not match the request schema',
        { issues, direction: "outgoing", contract: "orders.v1", method: "getOrder" },
        o,
      ),
    takesCause: true,
  },
  MalformedMessageError: {
    code: "MALFORMED",
    make: (o) => new MalformedMessageError("RpcServer: the body is not valid json. Check that both sides use the same codec.", o),
    takesCause: true,
  },
  UnknownMethodError: {
    code: "UNKNOWN_METHOD",
    make: (o) => new UnknownMethodError("orders.v1", "getOrdr", ["getOrder", "listOrders"], o),
    takesCause: true,
  },
  UnknownTopicError: {
    code: "UNKNOWN_TOPIC",
    make: (o) => new UnknownTopicError("sports.v1", "tennis.scores", ["football", "cricket"], o),
    takesCause: true,
  },
  UnrepresentableSchemaError: {
    code: "UNREPRESENTABLE_SCHEMA",
    make: (o) =>
      new UnrepresentableSchemaError(
        "clock.v1",
        [{ contract: "clock.v1", message: "now", part: "response", path: "", type: "date", reason: "Date is not JSON" }],
        o,
      ),
    takesCause: true,
  },
  MessageTooLargeError: {
    code: "MESSAGE_TOO_LARGE",
    make: (o) => new MessageTooLargeError('Request to "orders.v1/putOrder"', 2048, 1024, o),
    takesCause: true,
  },
  SubscriberStalledError: {
    code: "SUBSCRIBER_STALLED",
    make: (o) =>
      new SubscriberStalledError(
        'Publisher("sports.v1").publish("football.Arsenal")',
        "football.Arsenal",
        500,
        "tcp://127.0.0.1:5556",
        o,
      ),
    takesCause: true,
  },
  TimeoutError: {
    code: "TIMEOUT",
    make: (o) => new TimeoutError('RpcClient.call("orders.v1/getOrder")', 250, "ipc:///tmp/orders.sock", o),
    takesCause: true,
  },
  NoServerError: {
    code: "NO_SERVER",
    make: (o) =>
      new NoServerError(
        'RpcClient.call("orders.v1/getOrder")',
        500,
        [{ endpoint: "tcp://10.0.0.9:5555", state: "refused", detail: "connection refused, retrying" }],
        o,
      ),
    takesCause: true,
  },
  ConnectionLostError: {
    code: "CONNECTION_LOST",
    make: (o) => new ConnectionLostError('RpcClient.call("orders.v1/placeOrder")', "tcp://10.0.0.9:5555", o),
    takesCause: true,
  },
  AbortedError: {
    code: "ABORTED",
    make: (o) => new AbortedError('RpcClient.call("orders.v1/getOrder")', o),
    takesCause: true,
  },
  TaskRejectedError: {
    code: "TASK_REJECTED",
    make: (o) =>
      new TaskRejectedError('PipelineSource("jobs.v1").push()', "a1b2c3d4-7", "QUEUE_FULL", "the broker holds 100000 tasks", o),
    takesCause: true,
  },
  ClosedError: {
    code: "CLOSED",
    make: (o) => new ClosedError("RpcClient.call rejected: the client was closed.", o),
    takesCause: true,
  },
  InvalidEndpointError: {
    code: "INVALID_ENDPOINT",
    make: (o) => new InvalidEndpointError("tcp://127.0.0.1", "missing ':port'", o),
    takesCause: true,
  },
  EndpointInUseError: {
    code: "ENDPOINT_IN_USE",
    make: (o) => new EndpointInUseError("inproc://orders", o),
    takesCause: true,
  },
  TransportUnavailableError: {
    code: "TRANSPORT_UNAVAILABLE",
    make: (o) =>
      new TransportUnavailableError("epgm://127.0.0.1;239.192.1.1:7000", "epgm", "the loaded libzmq was built without PGM.", o),
    takesCause: true,
  },
  TransportError: {
    code: "TRANSPORT",
    make: (o) => new TransportError("RpcServer bind failed for 'tcp://10.9.9.9:0': Cannot assign requested address.", o),
    takesCause: true,
  },
  InvalidArgumentError: {
    code: "INVALID_ARGUMENT",
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a TypeError/RangeError subclass that TypedZmqError recognises by brand, on purpose
    make: (o) => new InvalidArgumentError('defineRpc: `name` must be a non-empty string such as "orders.v1".', o),
    takesCause: true,
    builtin: TypeError,
  },
  OutOfRangeError: {
    code: "OUT_OF_RANGE",
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a TypeError/RangeError subclass that TypedZmqError recognises by brand, on purpose
    make: (o) => new OutOfRangeError("RpcClient.connect: `timeoutMs` must be a number of milliseconds >= 0, got -1.", o),
    takesCause: true,
    builtin: RangeError,
  },
  StoreLockedError: {
    code: "STORE_LOCKED",
    make: (o) => new StoreLockedError("/var/lib/jobs/queue.db", o),
    takesCause: true,
  },
  StoreCorruptError: {
    code: "STORE_CORRUPT",
    make: (o) => new StoreCorruptError("/var/lib/jobs/queue.db", "it is not a SQLite database", o),
    takesCause: true,
  },
  StoreFullError: {
    code: "STORE_FULL",
    make: (o) => new StoreFullError("/var/lib/jobs/queue.db", 1_048_576, o),
    takesCause: true,
  },
  StoreUnavailableError: {
    code: "STORE_UNAVAILABLE",
    make: (o) =>
      new StoreUnavailableError("/var/lib/jobs/queue.db", "its directory '/var/lib/jobs' does not exist", "Create it first.", o),
    takesCause: true,
  },
  ApplicationError: {
    code: "NOT_FOUND",
    applicationCode: true,
    make: (o) => new ApplicationError("NOT_FOUND", "order 42 does not exist", { ...o, details: { id: 42 } }),
    takesCause: true,
  },
  RemoteCallError: {
    code: "NOT_FOUND",
    applicationCode: true,
    make: () => new RemoteCallError("orders.v1", "getOrder", { code: "NOT_FOUND", message: "order 42 does not exist" }),
    takesCause: false,
  },
};

/** Former export names kept as deprecated aliases of the same value: old name → new name. */
const deprecatedAliases: Readonly<Record<string, string>> = {
  RpcError: "ApplicationError",
  isRpcError: "isApplicationError",
  RemoteError: "RemoteCallError",
  isRemoteError: "isRemoteCallError",
};

function isErrorClass(value: unknown): value is ErrorClass {
  if (typeof value !== "function" || value === TypedZmqError) return false;
  const prototype: unknown = value.prototype;
  return typeof prototype === "object" && prototype !== null && Object.create(prototype) instanceof TypedZmqError;
}

/** The error classes a module namespace exports under their own name (aliases left out), by name. */
function errorClassesOf(namespace: Readonly<Record<string, unknown>>): Map<string, ErrorClass> {
  const classes = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(namespace)) {
    if (isErrorClass(value) && value.name === name) classes.set(name, value);
  }
  return classes;
}

/** Names of the exported error classes that have no row in `table`. */
function missingRows(namespace: Readonly<Record<string, unknown>>, table: Readonly<Record<string, unknown>>): string[] {
  return [...errorClassesOf(namespace).keys()].filter((name) => !(name in table));
}

const exported: Readonly<Record<string, unknown>> = api;
const classes = errorClassesOf(exported);

function sampleFor(name: string): Sample {
  const sample = samples[name];
  if (sample === undefined) throw new Error(`${name} is exported but has no row in \`samples\` (test/errors.test.ts): add one.`);
  return sample;
}

function guardFor(name: string): (err: unknown) => boolean {
  const guard = exported[`is${name}`];
  if (typeof guard !== "function") throw new Error(`${name} has no exported guard is${name}.`);
  return (err) => (guard as (err: unknown) => unknown)(err) === true;
}

describe("the table of error classes, generated from the exports", () => {
  test("finds the error classes the package exports, including the misuse errors", () => {
    expect(classes.size).toBeGreaterThanOrEqual(16);
    for (const name of ["UnknownTopicError", "InvalidArgumentError", "OutOfRangeError", "ApplicationError", "RemoteCallError"]) {
      expect(classes.has(name), name).toBe(true);
    }
  });

  test("every exported error class has a row, and every row an exported class", () => {
    expect(missingRows(exported, samples)).toEqual([]);
    expect(Object.keys(samples).filter((name) => !classes.has(name))).toEqual([]);
  });

  test("a class exported without a row is reported", () => {
    class UnlistedError extends TypedZmqError {
      override readonly name = "UnlistedError";
      readonly code = "CLOSED";
    }
    class UnlistedMisuseError extends TypeError {}
    expect(missingRows({ ...exported, UnlistedError }, samples)).toEqual(["UnlistedError"]);
    // A plain TypeError subclass is not one of ours, so it needs no row.
    expect(missingRows({ ...exported, UnlistedMisuseError }, samples)).toEqual([]);
  });

  test("an export whose name differs from its class is a known deprecated alias of the same value", () => {
    for (const [name, value] of Object.entries(exported)) {
      if (!isErrorClass(value) || value.name === name) continue;
      expect(deprecatedAliases[name], `${name} is an undeclared alias of ${value.name}`).toBe(value.name);
    }
    for (const [old, current] of Object.entries(deprecatedAliases)) {
      expect(exported[old], old).toBeDefined();
      expect(exported[old], `${old} is ${current}`).toBe(exported[current]);
    }
  });

  test("every exported isXxxError guard belongs to an exported class", () => {
    const guards = Object.keys(exported).filter((name) => /^is[A-Z]\w*Error$/.test(name) && name !== "isTypedZmqError");
    const owners = guards.map((guard) => deprecatedAliases[guard]?.slice(2) ?? guard.slice(2));
    expect(owners.filter((owner) => !classes.has(owner))).toEqual([]);
  });
});

describe.each([...classes.keys()])("%s", (name) => {
  const ctor = classes.get(name) as ErrorClass;

  test("is constructible from its sample, an instance of itself, of TypedZmqError and of Error", () => {
    const { make, builtin } = sampleFor(name);
    const err = make();
    expect(err).toBeInstanceOf(ctor);
    expect(err).toBeInstanceOf(TypedZmqError);
    expect(err).toBeInstanceOf(Error);
    if (builtin !== undefined) expect(err).toBeInstanceOf(builtin);
    expect(isTypedZmqError(err)).toBe(true);
  });

  test("has name equal to the class name, and a code from ErrorCode (or an application code)", () => {
    const sample = sampleFor(name);
    const err = sample.make();
    expect(err.name).toBe(name);
    expect(err.code).toBe(sample.code);
    expect(typeof err.code === "string" && err.code.length > 0).toBe(true);
    const known: readonly string[] = Object.values(ErrorCode);
    expect(known.includes(err.code), `${err.code} in ErrorCode`).toBe(sample.applicationCode !== true);
  });

  test("has the message shape: non-empty, trimmed, shown after the name", () => {
    const err = sampleFor(name).make();
    expect(err.message.length).toBeGreaterThan(0);
    expect(err.message).toBe(err.message.trim());
    expect(String(err)).toBe(`${name}: ${err.message}`);
    expect(err.stack?.startsWith(`${name}: `)).toBe(true);
  });

  test("keeps cause when given and has none otherwise", () => {
    const { make, takesCause } = sampleFor(name);
    expect("cause" in make()).toBe(false);
    if (!takesCause) return;
    const cause = new Error("underlying failure");
    expect(make({ cause }).cause).toBe(cause);
    // A falsy cause is still a cause.
    const zero = make({ cause: 0 });
    expect("cause" in zero).toBe(true);
    expect(zero.cause).toBe(0);
  });

  test("its guard is exported, true for it and false for every other error", () => {
    const guard = guardFor(name);
    expect(guard(sampleFor(name).make())).toBe(true);
    for (const other of classes.keys()) {
      if (other !== name) expect(guard(sampleFor(other).make()), `is${name} on ${other}`).toBe(false);
    }
    expect(guard(new Error("plain"))).toBe(false);
    expect(guard(new TypeError("type"))).toBe(false);
    expect(guard(new RangeError("range"))).toBe(false);
    expect(guard(null)).toBe(false);
    expect(guard(undefined)).toBe(false);
    expect(guard(name)).toBe(false);
    expect(guard({ code: sampleFor(name).code })).toBe(false);
  });

  test("its guard and isTypedZmqError are true for a plain object with its name and code (cross-realm)", () => {
    const foreign = { name, code: sampleFor(name).code, message: "from another realm" };
    expect(guardFor(name)(foreign)).toBe(true);
    expect(isTypedZmqError(foreign)).toBe(true);
  });

  test("its guard is true for an error made in another realm", () => {
    const foreign: unknown = runInNewContext(
      `const e = new Error("from a vm context"); e.name = ${JSON.stringify(name)}; e.code = ${JSON.stringify(sampleFor(name).code)}; e`,
    );
    expect(foreign instanceof Error).toBe(false);
    expect(guardFor(name)(foreign)).toBe(true);
    expect(isTypedZmqError(foreign)).toBe(true);
  });
});

describe("ErrorCode", () => {
  test("each value equals its key", () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key);
  });

  test("the wire codes are part of it, each equal to its key", () => {
    for (const [key, value] of Object.entries(WireErrorCode)) {
      expect(value).toBe(key);
      expect(Object.values(ErrorCode), key).toContain(value);
    }
  });

  test("every wire code is documented in docs/protocol.md", () => {
    const protocol = readFileSync(new URL("../docs/protocol.md", import.meta.url), "utf8");
    for (const code of Object.values(WireErrorCode)) expect(protocol, code).toContain(`\`${code}\``);
  });

  test("local codes (never on the wire) are not wire codes", () => {
    const wire: readonly string[] = Object.values(WireErrorCode);
    for (const code of ["TIMEOUT", "ABORTED", "CLOSED", "VALIDATION_FAILED", "INVALID_ARGUMENT", "OUT_OF_RANGE"]) {
      expect(wire.includes(code), code).toBe(false);
    }
  });
});

describe("isTypedZmqError", () => {
  test("is false for other errors and values", () => {
    expect(isTypedZmqError(new Error("plain"))).toBe(false);
    expect(isTypedZmqError(new TypeError("plain"))).toBe(false);
    expect(isTypedZmqError(new DOMException("The operation timed out.", "TimeoutError"))).toBe(false);
    expect(isTypedZmqError({ name: "Error", code: "TIMEOUT" })).toBe(false);
    expect(isTypedZmqError(undefined)).toBe(false);
  });

  test("is true for one of our errors from another realm (name and string code), also under a former name", () => {
    expect(isTypedZmqError({ name: "RemoteCallError", code: "NOT_FOUND", message: "x" })).toBe(true);
    expect(isTypedZmqError({ name: "RemoteError", code: "NOT_FOUND", message: "x" })).toBe(true);
    expect(isTypedZmqError({ name: "RpcError", code: "NOT_FOUND", message: "x" })).toBe(true);
    expect(isTypedZmqError({ name: "TimeoutError", code: "TIMEOUT", message: "x" })).toBe(true);
    expect(isTypedZmqError({ name: "TimeoutError", code: 23, message: "x" })).toBe(false);
    expect(isTypedZmqError({ name: "TimeoutError", code: "ETIMEDOUT", message: "x" })).toBe(false);
  });
});

describe("the misuse errors", () => {
  test("instanceof TypedZmqError covers them, but a subclass check stays exact", () => {
    const invalid = new InvalidArgumentError("bad");
    const range = new OutOfRangeError("too big");
    expect(invalid instanceof TypedZmqError).toBe(true);
    expect(range instanceof TypedZmqError).toBe(true);
    expect(invalid instanceof ClosedError).toBe(false);
    expect(new ClosedError("closed") instanceof InvalidArgumentError).toBe(false);
    expect(new TypeError("plain") instanceof TypedZmqError).toBe(false);
    expect(range instanceof TypeError).toBe(false);
    expect(invalid instanceof RangeError).toBe(false);
  });

  test("defineRpc with no name throws an InvalidArgumentError that is also a TypeError", () => {
    let caught: unknown;
    try {
      defineRpc("", {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect(isInvalidArgumentError(caught)).toBe(true);
    expect(caught).toMatchObject({ name: "InvalidArgumentError", code: "INVALID_ARGUMENT" });
    expect((caught as Error).message).toBe('defineRpc: `name` must be a non-empty string such as "orders.v1".');
  });

  test("the json codec refuses undefined with an InvalidArgumentError", () => {
    expect(() => jsonCodec.encode(undefined)).toThrow(InvalidArgumentError);
  });

  test("a negative option throws an OutOfRangeError that is also a RangeError, naming owner and option", () => {
    let caught: unknown;
    try {
      checkNonNegative(-1, 0, "drainTimeoutMs", "RpcServer.bind");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect(isOutOfRangeError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: "OUT_OF_RANGE" });
    expect((caught as Error).message).toBe("RpcServer.bind: `drainTimeoutMs` must be a number of milliseconds >= 0, got -1.");
  });

  test("no source file throws a bare TypeError or RangeError", () => {
    const src = fileURLToPath(new URL("../src/", import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(10);
    const bare = files.flatMap((file) =>
      readFileSync(join(src, file), "utf8")
        .split("\n")
        .flatMap((line, i) => (/new (TypeError|RangeError)\(/.test(line) ? [`src/${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(bare).toEqual([]);
  });
});

describe("deprecated names", () => {
  test("RpcError is ApplicationError: new RpcError makes an ApplicationError, instanceof works both ways", () => {
    expect(RpcError).toBe(ApplicationError);
    expect(isRpcError).toBe(isApplicationError);
    const old = new RpcError("NOT_FOUND", "gone");
    expect(old).toBeInstanceOf(ApplicationError);
    expect(new ApplicationError("NOT_FOUND", "gone")).toBeInstanceOf(RpcError);
    expect(old.name).toBe("ApplicationError");
    expect(isApplicationError({ name: "RpcError", code: "NOT_FOUND" })).toBe(true);
  });

  test("RemoteError is RemoteCallError", () => {
    expect(RemoteError).toBe(RemoteCallError);
    expect(isRemoteError).toBe(isRemoteCallError);
    const err = new RemoteCallError("orders.v1", "getOrder", { code: "HANDLER_ERROR", message: "boom" });
    expect(err).toBeInstanceOf(RemoteError);
    expect(isRemoteCallError({ name: "RemoteError", code: "HANDLER_ERROR" })).toBe(true);
  });
});

describe("isTimeoutError", () => {
  test("is false for an AbortSignal.timeout reason (DOMException named TimeoutError)", () => {
    const reason = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(reason.name).toBe("TimeoutError");
    expect(isTimeoutError(reason)).toBe(false);
  });

  test("is false for an object named TimeoutError without code TIMEOUT", () => {
    expect(isTimeoutError({ name: "TimeoutError" })).toBe(false);
    expect(isTimeoutError({ name: "TimeoutError", code: 23 })).toBe(false);
    expect(isTimeoutError({ name: "TimeoutError", code: "ETIMEDOUT" })).toBe(false);
  });

  test("is true for a plain object named TimeoutError with code TIMEOUT", () => {
    expect(isTimeoutError({ name: "TimeoutError", code: "TIMEOUT" })).toBe(true);
  });

  test("narrows to TimeoutError", () => {
    const err: unknown = new TimeoutError("call", 100, "inproc://x");
    if (!isTimeoutError(err)) throw new Error("expected a TimeoutError");
    expect(err.timeoutMs).toBe(100);
    expect(err.endpoint).toBe("inproc://x");
  });
});

describe("messages and fields", () => {
  test("ContractValidationError keeps the message and its fields", () => {
    const err = new ContractValidationError('Request to "orders.v1/getOrder" does not match the request schema', {
      issues,
      direction: "incoming",
      contract: "orders.v1",
      method: "getOrder",
    });
    expect(err.message).toBe('Request to "orders.v1/getOrder" does not match the request schema');
    expect(err.issues).toEqual(issues);
    expect(err.direction).toBe("incoming");
    expect(err.contract).toBe("orders.v1");
    expect(err.method).toBe("getOrder");
  });

  test("MalformedMessageError, ClosedError and TransportError keep the message as given", () => {
    expect(new MalformedMessageError("bad frames").message).toBe("bad frames");
    expect(new ClosedError("client closed").message).toBe("client closed");
    expect(new TransportError("libzmq said no").message).toBe("libzmq said no");
  });

  test("UnknownMethodError names the method, the contract, the known methods and what to do", () => {
    const err = new UnknownMethodError("orders.v1", "getOrdr", ["getOrder", "listOrders"]);
    expect(err.contract).toBe("orders.v1");
    expect(err.method).toBe("getOrdr");
    expect(err.message).toMatchInlineSnapshot(
      `"Method "getOrdr" is not part of contract "orders.v1". Known methods: "getOrder", "listOrders". Check the method name, or that both sides use the same contract version."`,
    );
  });

  test("UnknownMethodError says (none) when the contract has no methods", () => {
    const err = new UnknownMethodError("empty.v1", "ping", []);
    expect(err.message).toContain("Known methods: (none).");
  });

  test("MessageTooLargeError names size, limit and the option to raise", () => {
    const err = new MessageTooLargeError('Request to "orders.v1/putOrder"', 2048, 1024);
    expect(err.size).toBe(2048);
    expect(err.limit).toBe(1024);
    expect(err.message).toMatchInlineSnapshot(
      `"Request to "orders.v1/putOrder" is 2048 bytes, over the limit of 1024 bytes (maxMessageBytes). Send less data per message, or raise { maxMessageBytes } on both sides."`,
    );
  });

  test("TimeoutError names what timed out, the limit, the endpoint and what to do", () => {
    const err = new TimeoutError('RpcClient.call("orders.v1/getOrder")', 250, "ipc:///tmp/orders.sock");
    expect(err.timeoutMs).toBe(250);
    expect(err.endpoint).toBe("ipc:///tmp/orders.sock");
    expect(err.message).toMatchInlineSnapshot(
      `"RpcClient.call("orders.v1/getOrder") timed out after 250 ms waiting for a reply from ipc:///tmp/orders.sock. Check that a server for this contract is bound there, or raise { timeoutMs }."`,
    );
  });

  test("NoServerError says nothing was sent and what each endpoint showed", () => {
    const err = new NoServerError('RpcClient.call("orders.v1/getOrder")', 500.4, [
      {
        endpoint: "tcp://10.0.0.9:5555",
        state: "refused",
        detail: "connection refused, retrying, 4 reconnection attempts so far",
      },
      { endpoint: "tcp://10.0.0.8:5555", state: "handshake-failed", detail: "connected, but the ZMTP handshake failed" },
    ]);
    expect(err.waitedMs).toBe(500.4);
    expect(err.endpoints.map((e) => e.state)).toEqual(["refused", "handshake-failed"]);
    expect(err.message).toMatchInlineSnapshot(
      `"RpcClient.call("orders.v1/getOrder") found no connected server in 500 ms, so nothing was sent (tcp://10.0.0.9:5555: connection refused, retrying, 4 reconnection attempts so far; tcp://10.0.0.8:5555: connected, but the ZMTP handshake failed). Check that a server (or a broker's frontend) of this contract is bound there and reachable, with a ROUTER socket and the same security settings."`,
    );
  });

  test("ConnectionLostError says the call may or may not have run, and what to do", () => {
    const err = new ConnectionLostError('RpcClient.call("orders.v1/placeOrder")', "tcp://10.0.0.9:5555");
    expect(err.endpoint).toBe("tcp://10.0.0.9:5555");
    expect(err.attempts).toBeUndefined();
    expect(err.message).toMatchInlineSnapshot(
      `"RpcClient.call("orders.v1/placeOrder") lost its connection to tcp://10.0.0.9:5555 before the reply came: the request may or may not have run. Check whether it took effect before calling again, or mark the method \`idempotent: true\` in the contract if running it twice is harmless (it is then retried)."`,
    );
  });

  test("AbortedError describes the signal's reason", () => {
    const what = 'RpcClient.call("orders.v1/getOrder")';
    expect(new AbortedError(what).message).toMatchInlineSnapshot(
      `"RpcClient.call("orders.v1/getOrder") was aborted by its signal."`,
    );
    const reason = new Error("user left the page");
    const withError = new AbortedError(what, { cause: reason });
    expect(withError.cause).toBe(reason);
    expect(withError.message).toBe(`${what} was aborted by its signal: user left the page.`);
    expect(new AbortedError(what, { cause: "shutdown" }).message).toBe(`${what} was aborted by its signal: shutdown.`);
  });

  test("AbortedError from a real AbortController keeps the reason as cause", () => {
    const controller = new AbortController();
    controller.abort();
    const err = new AbortedError("Subscriber.next()", { cause: controller.signal.reason });
    expect(err.cause).toBe(controller.signal.reason);
    expect(err.message).toContain("Subscriber.next() was aborted by its signal: ");
    expect(err.message).toContain("aborted");
  });

  test("InvalidEndpointError quotes the endpoint, says why and lists the accepted forms", () => {
    const err = new InvalidEndpointError("tcp://127.0.0.1", "missing ':port'");
    expect(err.endpoint).toBe("tcp://127.0.0.1");
    expect(err.message).toMatchInlineSnapshot(
      `"endpoint 'tcp://127.0.0.1' is not valid: missing ':port'. Expected tcp://host:port, ipc://path, inproc://name, pgm://interface;group:port or epgm://interface;group:port."`,
    );
  });

  test("EndpointInUseError quotes the endpoint and suggests an ephemeral port", () => {
    const err = new EndpointInUseError("inproc://orders");
    expect(err.endpoint).toBe("inproc://orders");
    expect(err.message).toMatchInlineSnapshot(
      `"Cannot bind 'inproc://orders': the address is already in use. Stop the other process, pick another port or path, or bind to port 0 (or '*') for an ephemeral port."`,
    );
  });

  test("TransportUnavailableError quotes the endpoint and keeps the transport", () => {
    const err = new TransportUnavailableError("pgm://10.0.0.1;239.1.1.1:7000", "pgm", "no PGM here. Use tcp.");
    expect(err.endpoint).toBe("pgm://10.0.0.1;239.1.1.1:7000");
    expect(err.transport).toBe("pgm");
    expect(err.message).toBe("Cannot use 'pgm://10.0.0.1;239.1.1.1:7000': no PGM here. Use tcp.");
  });

  test("ApplicationError keeps an application code, the message and details", () => {
    const err = new ApplicationError("NOT_FOUND", "order 42 does not exist", { details: { id: 42 } });
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toBe("order 42 does not exist");
    expect(err.details).toEqual({ id: 42 });
    expect(new ApplicationError("CONFLICT", "busy").details).toBeUndefined();
  });

  test("ApplicationError rejects an empty code with an InvalidArgumentError (a TypeError)", () => {
    expect(() => new ApplicationError("", "no code")).toThrow(InvalidArgumentError);
    expect(() => new ApplicationError("", "no code")).toThrow(TypeError);
    expect(() => new ApplicationError("", "no code")).toThrow(/`code` must be a non-empty string/);
  });

  test("ApplicationError rejects a non-string code with an InvalidArgumentError", () => {
    const code: unknown = 404;
    expect(() => new ApplicationError(code as string, "wrong type")).toThrow(InvalidArgumentError);
  });

  test("RemoteCallError carries the remote code, message and details and names contract/method", () => {
    const err = new RemoteCallError("orders.v1", "getOrder", {
      code: "NOT_FOUND",
      message: "order 42 does not exist",
      details: { id: 42 },
    });
    expect(err.code).toBe("NOT_FOUND");
    expect(err.remoteMessage).toBe("order 42 does not exist");
    expect(err.details).toEqual({ id: 42 });
    expect(err.contract).toBe("orders.v1");
    expect(err.method).toBe("getOrder");
    expect(err.message).toMatchInlineSnapshot(
      `"orders.v1/getOrder failed on the server with NOT_FOUND: order 42 does not exist"`,
    );
  });
});

/** An error shaped like the ones zeromq.js throws: `code`, `errno` and `address` on an Error. */
function zmqLikeError(message: string, code: string, errno: number, address: string): Error {
  return Object.assign(new Error(message), { code, errno, address });
}

/** What `fn` throws or rejects with (zeromq.js throws some failures synchronously and rejects others). */
async function thrownBy(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure, but the call succeeded");
}

describe("fromZmqError", () => {
  test("maps EADDRINUSE to EndpointInUseError, keeping the cause", () => {
    const cause = zmqLikeError("Address already in use", "EADDRINUSE", 98, "inproc://orders");
    const err = fromZmqError(cause, "RpcServer bind", "inproc://orders");
    expect(err).toBeInstanceOf(EndpointInUseError);
    expect(err.code).toBe(ErrorCode.ENDPOINT_IN_USE);
    expect(err.cause).toBe(cause);
    expect(err.message).toContain("'inproc://orders'");
  });

  test("maps EBADF to ClosedError, keeping the cause and the libzmq text", () => {
    const cause = zmqLikeError("Socket is closed", "EBADF", 9, "tcp://127.0.0.1:0");
    const err = fromZmqError(cause, "RpcClient connect", "tcp://127.0.0.1:0");
    expect(err).toBeInstanceOf(ClosedError);
    expect(err.code).toBe(ErrorCode.CLOSED);
    expect(err.cause).toBe(cause);
    expect(err.message).toBe("RpcClient connect failed: the socket is already closed (Socket is closed).");
  });

  test("maps EPROTONOSUPPORT to TransportUnavailableError naming the transport", () => {
    const cause = zmqLikeError("Protocol not supported", "EPROTONOSUPPORT", 93, "norm://x");
    const err = fromZmqError(cause, "Publisher bind", "norm://x");
    expect(err).toBeInstanceOf(TransportUnavailableError);
    expect(err.code).toBe(ErrorCode.TRANSPORT_UNAVAILABLE);
    expect(err.cause).toBe(cause);
    if (!isTransportUnavailableError(err)) throw new Error("expected a TransportUnavailableError");
    expect(err.transport).toBe("norm");
    expect(err.endpoint).toBe("norm://x");
    expect(err.message).toContain("Protocol not supported");
  });

  test("maps any other code to TransportError with the libzmq text, the code and the endpoint", () => {
    const cause = zmqLikeError("No such device", "ENODEV", 19, "tcp://eth9:0");
    const err = fromZmqError(cause, "RpcServer bind", "tcp://eth9:0");
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe(ErrorCode.TRANSPORT);
    expect(err.cause).toBe(cause);
    expect(err.message).toMatchInlineSnapshot(
      `"RpcServer bind failed for 'tcp://eth9:0': No such device (ENODEV). Check the address and that the peer or interface exists."`,
    );
  });

  test("maps an error without a code to TransportError without a code suffix", () => {
    const cause = new Error("something odd");
    const err = fromZmqError(cause, "Subscriber connect", "inproc://x");
    expect(err).toBeInstanceOf(TransportError);
    expect(err.cause).toBe(cause);
    expect(err.message).toContain("'inproc://x': something odd. ");
    expect(err.message).not.toContain("(");
  });

  test("maps a thrown non-Error to TransportError with its text", () => {
    const err = fromZmqError("boom", "RpcServer bind", "inproc://x");
    expect(err).toBeInstanceOf(TransportError);
    expect(err.cause).toBe("boom");
    expect(err.message).toContain("boom");
  });

  test("returns a typed-zmq error unchanged", () => {
    const original = new InvalidEndpointError("tcp://", "nothing after '://'");
    expect(fromZmqError(original, "RpcServer bind", "tcp://")).toBe(original);
  });

  test("maps real zeromq errors: EBADF from a closed socket, EPROTONOSUPPORT from an unknown transport", async () => {
    const closed = new zmq.Pull({ linger: 0 });
    closed.close();
    const ebadf = await thrownBy(() => closed.bind("inproc://typed-zmq-errors-closed"));
    expect(ebadf).toMatchObject({ code: "EBADF" });
    const closedErr = fromZmqError(ebadf, "Puller bind", "inproc://typed-zmq-errors-closed");
    expect(closedErr).toBeInstanceOf(ClosedError);
    expect(closedErr.cause).toBe(ebadf);

    const socket = new zmq.Pull({ linger: 0 });
    try {
      const unsupported = await thrownBy(() => socket.bind("nosuch://x"));
      expect(unsupported).toMatchObject({ code: "EPROTONOSUPPORT" });
      const err = fromZmqError(unsupported, "Puller bind", "nosuch://x");
      expect(err).toBeInstanceOf(TransportUnavailableError);
      expect(err.cause).toBe(unsupported);
    } finally {
      socket.close();
    }
  });
});

describe("toError", () => {
  test("returns an Error unchanged", () => {
    const err = new RangeError("out of range");
    expect(toError(err)).toBe(err);
  });

  test("wraps a string, keeping it as cause", () => {
    const err = toError("boom");
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe("non-Error value thrown: boom");
    expect(err.cause).toBe("boom");
  });

  test("wraps an object as JSON", () => {
    const value = { code: 7, reason: "nope" };
    const err = toError(value);
    expect(err.message).toBe('non-Error value thrown: {"code":7,"reason":"nope"}');
    expect(err.cause).toBe(value);
  });

  test("wraps values JSON cannot render", () => {
    expect(toError(undefined).message).toBe("non-Error value thrown: undefined");
    expect(toError(10n).message).toBe("non-Error value thrown: 10");
    expect(toError(Symbol("s")).message).toBe("non-Error value thrown: Symbol(s)");
    const circular: Record<string, unknown> = {};
    circular["self"] = circular;
    const err = toError(circular);
    expect(err.message).toBe("non-Error value thrown: [object Object]");
    expect(err.cause).toBe(circular);
  });
});
