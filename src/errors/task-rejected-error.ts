/**
 * @packageDocumentation
 * {@link TaskRejectedError}: a reliable pipeline's broker refused to store a task.
 */
import { errorOptions } from "../internal/error-options.js";
import { ErrorCode } from "./error-code.js";
import { errorGuard } from "./guard.js";
import { TypedZmqError, type TypedZmqErrorOptions } from "./typed-zmq-error.js";

/** What to do about each rejection code a `PipelineBroker` sends (docs/protocol.md, "Reliable pipeline"). */
const ADVICE: Readonly<Record<string, string>> = {
  QUEUE_FULL:
    "The broker holds its `maxTasks` tasks and results: wait for workers and sinks to catch up and push again, add workers or sinks, or raise the broker's `maxTasks`.",
  STORE_FULL:
    "The broker's store reached its size limit or the disk is full: free disk space or raise the broker's `maxStoreBytes`, then push again.",
  STORE_FAILED: "The broker's store could not commit (an I/O error): check the broker's log and its disk, then push again.",
  UNAVAILABLE: "The broker is closing: push again once it (or another broker on the same store) is back.",
  MALFORMED: "The broker could not read the PUSH: check that source and broker speak the same protocol version.",
};

/**
 * A `PipelineBroker` answered a reliable {@link PipelineSource.push} with REJECTED: the broker did not store the task
 * when it answered. To try again, push it with the **same id**: if a resend of it was accepted in the meantime (a
 * source resends unanswered pushes after `resendMs` and on reconnection), the broker recognises the id and keeps one
 * copy. Pushing it under a new id could run it twice.
 *
 * `code` is always `TASK_REJECTED`; `reason` is the broker's code: `QUEUE_FULL`, `STORE_FULL`, `STORE_FAILED`,
 * `UNAVAILABLE` (the broker is closing) or `MALFORMED` (or a code a newer broker sends), and the message says what
 * to do for each.
 */
export class TaskRejectedError extends TypedZmqError {
  override readonly name = "TaskRejectedError";
  readonly code = ErrorCode.TASK_REJECTED;
  /** The broker's rejection code: `QUEUE_FULL`, `STORE_FULL`, `STORE_FAILED`, `UNAVAILABLE`, `MALFORMED`, or another. */
  readonly reason: string;
  /** The id of the rejected task. */
  readonly taskId: string;
  /** The broker's own explanation. */
  readonly brokerMessage: string;
  /**
   * @param what - Who pushed, for example `PipelineSource("jobs.v1").push()`.
   * @param taskId - The task's id.
   * @param reason - The broker's code.
   * @param brokerMessage - The broker's message.
   */
  constructor(what: string, taskId: string, reason: string, brokerMessage: string, options?: TypedZmqErrorOptions) {
    const advice = ADVICE[reason] ?? "Check the broker's log; the task was not stored, so pushing it again is safe.";
    super(
      `${what} rejected: the broker refused task "${taskId}" with ${reason} (${brokerMessage.trim() || "no message"}); it was not stored. ${advice}`,
      errorOptions(options),
    );
    this.reason = reason;
    this.taskId = taskId;
    this.brokerMessage = brokerMessage;
  }
}

/** True for a {@link TaskRejectedError}, also across realms. */
export const isTaskRejectedError = errorGuard(TaskRejectedError, "TaskRejectedError");
