import { runInNewContext } from "node:vm";
import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import {
  AbortedError,
  ClosedError,
  ContractValidationError,
  EndpointInUseError,
  ErrorCode,
  InvalidEndpointError,
  MalformedMessageError,
  MessageTooLargeError,
  RemoteError,
  RpcError,
  TimeoutError,
  TransportError,
  TransportUnavailableError,
  TypedZmqError,
  UnknownMethodError,
  isAbortedError,
  isClosedError,
  isContractValidationError,
  isEndpointInUseError,
  isInvalidEndpointError,
  isMalformedMessageError,
  isMessageTooLargeError,
  isRemoteError,
  isRpcError,
  isTimeoutError,
  isTransportError,
  isTransportUnavailableError,
  isTypedZmqError,
  isUnknownMethodError,
} from "../src/index.js";
import type { TypedZmqErrorOptions, ValidationIssue } from "../src/index.js";
import { fromZmqError, toError } from "../src/errors.js";

const issues: readonly ValidationIssue[] = [
  { path: ["items", 0, "price"], code: "invalid_type", message: "Invalid input: expected number, received string" },
];

/** One row per exported error class: how to build it, and what it must look like. */
interface ErrorCase {
  readonly name: string;
  readonly ctor: abstract new (...args: never[]) => TypedZmqError;
  readonly code: string;
  readonly make: (options?: TypedZmqErrorOptions) => TypedZmqError;
  readonly guard: (err: unknown) => boolean;
  /** RemoteError is built from a wire body and takes no options, so it has no `cause`. */
  readonly takesCause: boolean;
}

const cases: readonly ErrorCase[] = [
  {
    name: "ContractValidationError",
    ctor: ContractValidationError,
    code: "VALIDATION_FAILED",
    make: (o) =>
      new ContractValidationError(
        'Request to "orders.v1/getOrder" does not match the request schema',
        { issues, direction: "outgoing", contract: "orders.v1", method: "getOrder" },
        o,
      ),
    guard: isContractValidationError,
    takesCause: true,
  },
  {
    name: "MalformedMessageError",
    ctor: MalformedMessageError,
    code: "MALFORMED",
    make: (o) => new MalformedMessageError("RpcServer: the body is not valid json. Check that both sides use the same codec.", o),
    guard: isMalformedMessageError,
    takesCause: true,
  },
  {
    name: "UnknownMethodError",
    ctor: UnknownMethodError,
    code: "UNKNOWN_METHOD",
    make: (o) => new UnknownMethodError("orders.v1", "getOrdr", ["getOrder", "listOrders"], o),
    guard: isUnknownMethodError,
    takesCause: true,
  },
  {
    name: "MessageTooLargeError",
    ctor: MessageTooLargeError,
    code: "MESSAGE_TOO_LARGE",
    make: (o) => new MessageTooLargeError('Request to "orders.v1/putOrder"', 2048, 1024, o),
    guard: isMessageTooLargeError,
    takesCause: true,
  },
  {
    name: "TimeoutError",
    ctor: TimeoutError,
    code: "TIMEOUT",
    make: (o) => new TimeoutError('RpcClient.call("orders.v1/getOrder")', 250, "ipc:///tmp/orders.sock", o),
    guard: isTimeoutError,
    takesCause: true,
  },
  {
    name: "AbortedError",
    ctor: AbortedError,
    code: "ABORTED",
    make: (o) => new AbortedError('RpcClient.call("orders.v1/getOrder")', o),
    guard: isAbortedError,
    takesCause: true,
  },
  {
    name: "ClosedError",
    ctor: ClosedError,
    code: "CLOSED",
    make: (o) => new ClosedError("RpcClient.call rejected: the client was closed.", o),
    guard: isClosedError,
    takesCause: true,
  },
  {
    name: "InvalidEndpointError",
    ctor: InvalidEndpointError,
    code: "INVALID_ENDPOINT",
    make: (o) => new InvalidEndpointError("tcp://127.0.0.1", "missing ':port'", o),
    guard: isInvalidEndpointError,
    takesCause: true,
  },
  {
    name: "EndpointInUseError",
    ctor: EndpointInUseError,
    code: "ENDPOINT_IN_USE",
    make: (o) => new EndpointInUseError("inproc://orders", o),
    guard: isEndpointInUseError,
    takesCause: true,
  },
  {
    name: "TransportUnavailableError",
    ctor: TransportUnavailableError,
    code: "TRANSPORT_UNAVAILABLE",
    make: (o) =>
      new TransportUnavailableError("epgm://127.0.0.1;239.192.1.1:7000", "epgm", "the loaded libzmq was built without PGM.", o),
    guard: isTransportUnavailableError,
    takesCause: true,
  },
  {
    name: "TransportError",
    ctor: TransportError,
    code: "TRANSPORT",
    make: (o) => new TransportError("RpcServer bind failed for 'tcp://10.9.9.9:0': Cannot assign requested address.", o),
    guard: isTransportError,
    takesCause: true,
  },
  {
    name: "RpcError",
    ctor: RpcError,
    code: "NOT_FOUND",
    make: (o) => new RpcError("NOT_FOUND", "order 42 does not exist", { ...o, details: { id: 42 } }),
    guard: isRpcError,
    takesCause: true,
  },
  {
    name: "RemoteError",
    ctor: RemoteError,
    code: "HANDLER_ERROR",
    make: () => new RemoteError("orders.v1", "getOrder", { code: "HANDLER_ERROR", message: "database is down" }),
    guard: isRemoteError,
    takesCause: false,
  },
];

describe.each(cases)("$name", (c) => {
  test("is an instance of its class, of TypedZmqError and of Error", () => {
    const err = c.make();
    expect(err).toBeInstanceOf(c.ctor);
    expect(err).toBeInstanceOf(TypedZmqError);
    expect(err).toBeInstanceOf(Error);
    expect(isTypedZmqError(err)).toBe(true);
  });

  test("has name equal to the class name and the expected code", () => {
    const err = c.make();
    expect(err.name).toBe(c.name);
    expect(err.name).toBe(c.ctor.name);
    expect(err.code).toBe(c.code);
    expect(String(err).startsWith(`${c.name}: `)).toBe(true);
    expect(err.stack?.startsWith(`${c.name}: `)).toBe(true);
  });

  test("keeps cause when given and has none otherwise", () => {
    expect("cause" in c.make()).toBe(false);
    if (!c.takesCause) return;
    const cause = new Error("underlying failure");
    expect(c.make({ cause }).cause).toBe(cause);
    // A falsy cause is still a cause.
    const zero = c.make({ cause: 0 });
    expect("cause" in zero).toBe(true);
    expect(zero.cause).toBe(0);
  });

  test("its guard is true for it and false for every other error", () => {
    expect(c.guard(c.make())).toBe(true);
    for (const other of cases) {
      if (other.name === c.name) continue;
      expect(c.guard(other.make()), `${c.name} guard on ${other.name}`).toBe(false);
    }
    expect(c.guard(new Error("plain"))).toBe(false);
    expect(c.guard(new TypeError("type"))).toBe(false);
    expect(c.guard(null)).toBe(false);
    expect(c.guard(undefined)).toBe(false);
    expect(c.guard(c.name)).toBe(false);
    expect(c.guard({ code: c.code })).toBe(false);
  });

  test("its guard is true for a plain object with the right name and code (cross-realm)", () => {
    expect(c.guard({ name: c.name, code: c.code, message: "from another realm" })).toBe(true);
  });

  test("its guard is true for an error made in another realm", () => {
    const foreign: unknown = runInNewContext(
      `const e = new Error("from a vm context"); e.name = ${JSON.stringify(c.name)}; e.code = ${JSON.stringify(c.code)}; e`,
    );
    expect(foreign instanceof Error).toBe(false);
    expect(c.guard(foreign)).toBe(true);
  });
});

describe("ErrorCode", () => {
  test("each value equals its key", () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key);
  });
  test("every local class code is in ErrorCode", () => {
    const codes: readonly string[] = Object.values(ErrorCode);
    for (const c of cases) {
      if (c.name === "RpcError" || c.name === "RemoteError") continue; // application / remote codes
      expect(codes, c.name).toContain(c.code);
    }
  });
});

describe("isTypedZmqError", () => {
  test("is false for other errors and values", () => {
    expect(isTypedZmqError(new Error("plain"))).toBe(false);
    expect(isTypedZmqError(new DOMException("The operation timed out.", "TimeoutError"))).toBe(false);
    expect(isTypedZmqError({ name: "Error", code: "TIMEOUT" })).toBe(false);
    expect(isTypedZmqError(undefined)).toBe(false);
  });
  test("is true for one of our errors from another realm (name and string code)", () => {
    expect(isTypedZmqError({ name: "RemoteError", code: "NOT_FOUND", message: "x" })).toBe(true);
    expect(isTypedZmqError({ name: "TimeoutError", code: "TIMEOUT", message: "x" })).toBe(true);
    expect(isTypedZmqError({ name: "TimeoutError", code: 23, message: "x" })).toBe(false);
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
    const err = new ContractValidationError(
      'Request to "orders.v1/getOrder" does not match the request schema',
      { issues, direction: "incoming", contract: "orders.v1", method: "getOrder" },
    );
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
    expect(err.message).toMatchInlineSnapshot(`"Method "getOrdr" is not part of contract "orders.v1". Known methods: "getOrder", "listOrders". Check the method name, or that both sides use the same contract version."`);
  });

  test("UnknownMethodError says (none) when the contract has no methods", () => {
    const err = new UnknownMethodError("empty.v1", "ping", []);
    expect(err.message).toContain("Known methods: (none).");
  });

  test("MessageTooLargeError names size, limit and the option to raise", () => {
    const err = new MessageTooLargeError('Request to "orders.v1/putOrder"', 2048, 1024);
    expect(err.size).toBe(2048);
    expect(err.limit).toBe(1024);
    expect(err.message).toMatchInlineSnapshot(`"Request to "orders.v1/putOrder" is 2048 bytes, over the limit of 1024 bytes (maxMessageBytes). Send less data per message, or raise { maxMessageBytes } on both sides."`);
  });

  test("TimeoutError names what timed out, the limit, the endpoint and what to do", () => {
    const err = new TimeoutError('RpcClient.call("orders.v1/getOrder")', 250, "ipc:///tmp/orders.sock");
    expect(err.timeoutMs).toBe(250);
    expect(err.endpoint).toBe("ipc:///tmp/orders.sock");
    expect(err.message).toMatchInlineSnapshot(`"RpcClient.call("orders.v1/getOrder") timed out after 250 ms waiting for a reply from ipc:///tmp/orders.sock. Check that a server for this contract is bound there, or raise { timeoutMs }."`);
  });

  test("AbortedError describes the signal's reason", () => {
    const what = 'RpcClient.call("orders.v1/getOrder")';
    expect(new AbortedError(what).message).toMatchInlineSnapshot(`"RpcClient.call("orders.v1/getOrder") was aborted by its signal."`);
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
    expect(err.message).toMatchInlineSnapshot(`"endpoint 'tcp://127.0.0.1' is not valid: missing ':port'. Expected tcp://host:port, ipc://path, inproc://name, pgm://interface;group:port or epgm://interface;group:port."`);
  });

  test("EndpointInUseError quotes the endpoint and suggests an ephemeral port", () => {
    const err = new EndpointInUseError("inproc://orders");
    expect(err.endpoint).toBe("inproc://orders");
    expect(err.message).toMatchInlineSnapshot(`"Cannot bind 'inproc://orders': the address is already in use. Stop the other process, pick another port or path, or bind to port 0 (or '*') for an ephemeral port."`);
  });

  test("TransportUnavailableError quotes the endpoint and keeps the transport", () => {
    const err = new TransportUnavailableError("pgm://10.0.0.1;239.1.1.1:7000", "pgm", "no PGM here. Use tcp.");
    expect(err.endpoint).toBe("pgm://10.0.0.1;239.1.1.1:7000");
    expect(err.transport).toBe("pgm");
    expect(err.message).toBe("Cannot use 'pgm://10.0.0.1;239.1.1.1:7000': no PGM here. Use tcp.");
  });

  test("RpcError keeps an application code, the message and details", () => {
    const err = new RpcError("NOT_FOUND", "order 42 does not exist", { details: { id: 42 } });
    expect(err.code).toBe("NOT_FOUND");
    expect(err.message).toBe("order 42 does not exist");
    expect(err.details).toEqual({ id: 42 });
    expect(new RpcError("CONFLICT", "busy").details).toBeUndefined();
  });

  test("RpcError rejects an empty code with a TypeError", () => {
    expect(() => new RpcError("", "no code")).toThrow(TypeError);
    expect(() => new RpcError("", "no code")).toThrow(/`code` must be a non-empty string/);
  });

  test("RpcError rejects a non-string code with a TypeError", () => {
    const code: unknown = 404;
    expect(() => new RpcError(code as string, "wrong type")).toThrow(TypeError);
  });

  test("RemoteError carries the remote code, message and details and names contract/method", () => {
    const err = new RemoteError("orders.v1", "getOrder", {
      code: "NOT_FOUND",
      message: "order 42 does not exist",
      details: { id: 42 },
    });
    expect(err.code).toBe("NOT_FOUND");
    expect(err.remoteMessage).toBe("order 42 does not exist");
    expect(err.details).toEqual({ id: 42 });
    expect(err.contract).toBe("orders.v1");
    expect(err.method).toBe("getOrder");
    expect(err.message).toMatchInlineSnapshot(`"orders.v1/getOrder failed on the server with NOT_FOUND: order 42 does not exist"`);
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
    expect(err.message).toMatchInlineSnapshot(`"RpcServer bind failed for 'tcp://eth9:0': No such device (ENODEV). Check the address and that the peer or interface exists."`);
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
