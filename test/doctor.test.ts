import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { CAPABILITIES, doctor, formatDoctorReport } from "../src/index.js";
import { startProgram } from "./helpers/programs.js";

describe("doctor", () => {
  test("reports the loaded libzmq, its capabilities and advice for what is missing", () => {
    const report = doctor();
    expect(report.libzmq).toBe(zmq.version);
    expect(report.node).toBe(process.versions.node);
    expect(report.zeromqJs).toMatch(/^6\./);
    expect(["prebuilt", "system"]).toContain(report.addon);
    for (const c of CAPABILITIES) expect(report.capabilities[c]).toBe(zmq.capability[c] === true);
    if (!report.capabilities.pgm) expect(report.advice.join("\n")).toMatch(/npm run build:zmq-system/);
    const text = formatDoctorReport(report);
    expect(text).toContain(`libzmq     ${zmq.version}`);
    expect(text).toMatch(new RegExp(`^pgm\\s+${report.capabilities.pgm ? "yes" : "no"}$`, "m"));
  });

  test("the typed-zmq command prints the report, and refuses an unknown command with its usage", async () => {
    const ok = startProgram("doctor", "src/cli.ts", {}, ["doctor"]);
    expect(await ok.exited).toBe(0);
    expect(ok.lines).toContain(`libzmq     ${zmq.version}`);
    const bad = startProgram("cli", "src/cli.ts", {}, ["frobnicate"]);
    expect(await bad.exited).toBe(2);
    expect(bad.lines.join("\n")).toMatch(/usage: typed-zmq <command>/);
  }, 30_000);
});
