import { describe, expect, test } from "vitest";
import * as zmq from "zeromq";
import { CAPABILITIES, doctor, formatDoctorReport } from "../src/index.js";

describe("doctor", () => {
  test("reports the loaded libzmq, its capabilities and advice for what is missing", () => {
    const report = doctor();
    expect(report.libzmq).toBe(zmq.version);
    expect(report.node).toBe(process.versions.node);
    expect(report.zeromqJs).toMatch(/^6\./);
    expect(["prebuilt", "system"]).toContain(report.addon);
    for (const c of CAPABILITIES) expect(report.capabilities[c]).toBe(zmq.capability[c] === true);
    // The advice names commands that work where the package is installed, not this repository's npm scripts.
    if (!report.capabilities.pgm) expect(report.advice.join("\n")).toMatch(/npx typed-zmq build-zmq-system/);
    expect(report.advice.join("\n")).not.toMatch(/npm run/);
    const text = formatDoctorReport(report);
    expect(text).toContain(`libzmq     ${zmq.version}`);
    expect(text).toMatch(new RegExp(`^pgm\\s+${report.capabilities.pgm ? "yes" : "no"}$`, "m"));
  });
});
