/**
 * Push-pull roles. `push` binds a PipelineSource (raw: a PUSH socket), waits for the worker, and pushes `count`
 * tasks and the end marker (PUSH waits when queues are full: lossless by nature). `pull` connects a PipelineWorker
 * (raw: a PULL socket with a read loop), counts until the end marker and reports.
 */
import * as zmq from "zeromq";
import { PipelineSource, PipelineWorker, type PipelineSourceOptions } from "../../dist/index.js";
import { END, codecFor, jobContract, makeMessage, seqOf } from "../payloads.js";
import type { RoleSpec, RunResult } from "../protocol.js";
import {
  BATCH,
  RssProbe,
  hasFlush,
  now,
  watchStall,
  withRss,
  type FutureSourceOptions,
  type RoleHandle,
  countUntilEnd,
} from "./common.js";

const BATCH_WINDOW = 1024;

export async function openPush(spec: RoleSpec): Promise<RoleHandle> {
  return spec.impl === "typed" ? openTypedPush(spec) : openRawPush(spec);
}

export async function openPull(spec: RoleSpec): Promise<RoleHandle> {
  return spec.impl === "typed" ? openTypedPull(spec) : openRawPull(spec);
}

async function openTypedPush(spec: RoleSpec): Promise<RoleHandle> {
  const options: PipelineSourceOptions & FutureSourceOptions = {
    codec: codecFor(spec.codec),
    ...(spec.batch ? { batch: BATCH } : {}),
    ...(spec.validateOutgoing === false ? { validateOutgoing: false } : {}),
  };
  const source = await PipelineSource.bind(spec.endpoint, jobContract(spec.payload, spec.validate), options);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: source.endpoint,
    async run(): Promise<RunResult> {
      // libzmq reports no connection events on inproc; there the worker connected before this run started.
      if (spec.transport !== "inproc") await source.waitForWorkers(1, { timeoutMs: 10_000 });
      const started = now();
      if (spec.batch) {
        let window: Promise<void>[] = [];
        for (let i = 0; i < spec.count; i++) {
          window.push(source.push(makeMessage(spec.payload, i)));
          if (window.length === BATCH_WINDOW) {
            await Promise.all(window);
            window = [];
          }
          probe.tick(i + 1);
        }
        window.push(source.push(makeMessage(spec.payload, END)));
        const last = Promise.all(window);
        if (hasFlush(source)) await source.flush();
        await last;
      } else {
        for (let i = 0; i < spec.count; i++) {
          await source.push(makeMessage(spec.payload, i));
          probe.tick(i + 1);
        }
        await source.push(makeMessage(spec.payload, END));
      }
      return withRss({ count: spec.count, elapsedMs: now() - started, endSeen: true }, probe);
    },
    async close() {
      await source.close();
      return {};
    },
  };
}

async function openRawPush(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Push({ linger: 1000 });
  await socket.bind(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: socket.lastEndpoint ?? spec.endpoint,
    async run(): Promise<RunResult> {
      const started = now();
      for (let i = 0; i < spec.count; i++) {
        await socket.send(JSON.stringify(makeMessage(spec.payload, i)));
        probe.tick(i + 1);
      }
      await socket.send(JSON.stringify(makeMessage(spec.payload, END)));
      return withRss({ count: spec.count, elapsedMs: now() - started, endSeen: true }, probe);
    },
    async close() {
      socket.close();
      return {};
    },
  };
}

interface Tally {
  count: number;
  started: number;
  finished: number;
  endSeen: boolean;
}

async function openTypedPull(spec: RoleSpec): Promise<RoleHandle> {
  const probe = new RssProbe(spec.soakWarmup);
  const tally: Tally = { count: 0, started: 0, finished: 0, endSeen: false };
  let onEnd = (): void => undefined;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  // The worker pulls from the moment it connects; the clock starts at the first task either way.
  const worker = await PipelineWorker.connect(
    { tasks: spec.endpoint },
    jobContract(spec.payload, spec.validate),
    (task) => {
      if (tally.count === 0 && tally.started === 0) tally.started = now();
      if (seqOf(task) === END) {
        tally.finished = now();
        tally.endSeen = true;
        onEnd();
      } else {
        tally.count++;
        probe.tick(tally.count);
      }
      return null;
    },
    { codec: codecFor(spec.codec) },
  );
  return {
    endpoint: spec.endpoint,
    async run(): Promise<RunResult> {
      const stop = watchStall(() => tally.count, spec.stallMs, onEnd);
      await ended;
      stop();
      const finished = tally.endSeen ? tally.finished : now();
      return withRss({ count: tally.count, elapsedMs: finished - tally.started, endSeen: tally.endSeen }, probe);
    },
    async close() {
      await worker.close();
      return {};
    },
  };
}

async function openRawPull(spec: RoleSpec): Promise<RoleHandle> {
  const socket = new zmq.Pull({ linger: 0 });
  socket.connect(spec.endpoint);
  const probe = new RssProbe(spec.soakWarmup);
  return {
    endpoint: spec.endpoint,
    run: (): Promise<RunResult> =>
      countUntilEnd(
        socket,
        spec,
        probe,
        ([body]: Buffer[]) => (body === undefined ? undefined : seqOf(JSON.parse(body.toString()))),
        () => socket.close(),
      ),
    async close() {
      if (!socket.closed) socket.close();
      return {};
    },
  };
}
