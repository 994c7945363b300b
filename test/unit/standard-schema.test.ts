/**
 * Standard Schema without sockets: what `defineRpc`/`defineTopics`/`defineJobs` accept and refuse, the types
 * inferred from valibot and arktype schemas (a transform's input and output), the validation seam
 * (internal/validator.ts: zod stays synchronous, async checks give a promise, issues carry plain paths), and the
 * export through the Standard JSON Schema interface.
 */
import { toStandardJsonSchema } from "@valibot/to-json-schema";
import { type } from "arktype";
import * as v from "valibot";
import { describe, expect, expectTypeOf, test } from "vitest";
import * as z from "zod";
import {
  InvalidArgumentError,
  UnrepresentableSchemaError,
  defineJobs,
  defineRpc,
  defineTopics,
  toAsyncApi,
  toJsonSchema,
  type InferHandlerRequest,
  type InferHandlerResponse,
  type InferHandlerTask,
  type InferPublish,
  type InferRequest,
  type InferResponse,
  type InferResult,
  type InferTask,
  type InferTopicData,
  type InputOf,
  type OutputOf,
} from "../../src/index.js";
import { validatorOf, type Validation } from "../../src/internal/validator.js";

const _ValibotOrders = defineRpc("orders.valibot.v1", {
  place: {
    request: v.object({ qty: v.pipe(v.string(), v.transform(Number)) }),
    response: v.object({ id: v.string() }),
  },
});
const ArkOrders = defineRpc("orders.arktype.v1", {
  place: { request: type({ qty: type("string").pipe((s) => Number(s)) }), response: type({ id: "string" }) },
});

describe("types inferred from Standard Schema validators", () => {
  test("valibot: callers pass the input, handlers get the output (a transform's two sides)", () => {
    expectTypeOf<InferRequest<typeof _ValibotOrders, "place">>().toEqualTypeOf<{ qty: string }>();
    expectTypeOf<InferHandlerRequest<typeof _ValibotOrders, "place">>().toEqualTypeOf<{ qty: number }>();
    expectTypeOf<InferHandlerResponse<typeof _ValibotOrders, "place">>().toEqualTypeOf<{ id: string }>();
    expectTypeOf<InferResponse<typeof _ValibotOrders, "place">>().toEqualTypeOf<{ id: string }>();
  });

  test("arktype: the same split through its morphs", () => {
    expectTypeOf<InferRequest<typeof ArkOrders, "place">>().toEqualTypeOf<{ qty: string }>();
    expectTypeOf<InferHandlerRequest<typeof ArkOrders, "place">>().toEqualTypeOf<{ qty: number }>();
    expectTypeOf<InferResponse<typeof ArkOrders, "place">>().toEqualTypeOf<{ id: string }>();
  });

  test("topics and jobs, and zod unchanged through InputOf/OutputOf", () => {
    const _Topics = defineTopics("t.v1", { price: v.object({ px: v.pipe(v.string(), v.transform(Number)) }) });
    expectTypeOf<InferPublish<typeof _Topics, "price.EUR">>().toEqualTypeOf<{ px: string }>();
    expectTypeOf<InferTopicData<typeof _Topics, "price">>().toEqualTypeOf<{ px: number }>();
    const _Jobs = defineJobs("j.v1", { task: type({ n: "number" }), result: v.object({ ok: v.boolean() }) });
    expectTypeOf<InferTask<typeof _Jobs>>().toEqualTypeOf<{ n: number }>();
    expectTypeOf<InferHandlerTask<typeof _Jobs>>().toEqualTypeOf<{ n: number }>();
    expectTypeOf<InferResult<typeof _Jobs>>().toEqualTypeOf<{ ok: boolean }>();
    const _Z = z.object({ at: z.iso.datetime().transform((s) => new Date(s)), n: z.number().default(1) });
    expectTypeOf<InputOf<typeof _Z>>().toEqualTypeOf<z.input<typeof _Z>>();
    expectTypeOf<OutputOf<typeof _Z>>().toEqualTypeOf<z.output<typeof _Z>>();
  });
});

describe("define* accept zod or a Standard Schema v1 validator, and say what is wrong otherwise", () => {
  test("valibot, arktype and zod, alone or mixed", () => {
    expect(() => defineRpc("m.v1", { a: { request: z.string(), response: v.string() } })).not.toThrow();
    expect(() => defineTopics("t.v1", { a: type("string"), b: z.number() })).not.toThrow();
    expect(() => defineJobs("j.v1", { task: v.number(), result: type("number") })).not.toThrow();
  });

  const cases: { what: string; schema: unknown; says: RegExp }[] = [
    {
      what: "a plain value",
      schema: 42,
      says: /a zod 4 schema or a Standard Schema v1 validator \(valibot, arktype, \.\.\.\).*got number/,
    },
    { what: "an object without either interface", schema: { parse() {} }, says: /neither `safeParse` \(zod\) nor `~standard`/ },
    {
      what: "another Standard Schema version",
      schema: { "~standard": { version: 2, vendor: "future", validate: () => ({ value: 1 }) } },
      says: /version 2 \(vendor "future"\).*only version 1/,
    },
    {
      what: "a Standard Schema without validate",
      schema: { "~standard": { version: 1, vendor: "typed-only" } },
      says: /without a `~standard.validate` function/,
    },
  ];
  test.each(cases)("refuses $what", ({ schema, says }) => {
    // Untyped JavaScript callers can pass anything; the casts stand for them.
    const methods = { m: { request: schema, response: z.string() } } as unknown as {
      m: { request: z.ZodString; response: z.ZodString };
    };
    expect(() => defineRpc("bad.v1", methods)).toThrow(InvalidArgumentError);
    expect(() => defineRpc("bad.v1", methods)).toThrow(says);
    expect(() => defineRpc("bad.v1", methods)).toThrow(/defineRpc\("bad.v1"\): `m.request`/);
    expect(() => defineTopics("bad.v1", { t: schema as z.ZodString })).toThrow(/the schema of topic "t"/);
    expect(() => defineJobs("bad.v1", { task: schema as z.ZodString, result: z.string() })).toThrow(/`task`/);
  });
});

/** Awaits a validation whether or not it is a promise, after checking which it was. */
async function settle(result: Validation | Promise<Validation>): Promise<Validation> {
  return await result;
}

describe("the validation seam", () => {
  test("zod checks synchronously, and reuses one validator per schema", () => {
    const schema = z.object({ n: z.number() });
    const validate = validatorOf(schema);
    expect(validatorOf(schema)).toBe(validate);
    const ok = validate({ n: 1 });
    expect(ok).not.toBeInstanceOf(Promise);
    expect(ok).toEqual({ ok: true, value: { n: 1 } });
    const bad = validate({ n: "x" });
    expect(bad).toMatchObject({ ok: false, issues: [{ path: ["n"], code: "invalid_type" }] });
  });

  test("a zod schema with an async refinement falls back to safeParseAsync", async () => {
    const validate = validatorOf(z.object({ n: z.number() }).refine(async (x) => x.n > 0, { message: "positive", path: ["n"] }));
    const first = validate({ n: 1 });
    expect(first).toBeInstanceOf(Promise);
    await expect(first).resolves.toEqual({ ok: true, value: { n: 1 } });
    await expect(settle(validate({ n: -1 }))).resolves.toMatchObject({
      ok: false,
      issues: [{ path: ["n"], message: "positive" }],
    });
  });

  test("valibot and arktype issues become plain issues with paths, and readable text", async () => {
    const valibot = await settle(
      validatorOf(v.object({ items: v.array(v.object({ px: v.number() })) }))({ items: [{ px: "1" }] }),
    );
    expect(valibot.ok).toBe(false);
    if (valibot.ok) return;
    expect(valibot.issues).toEqual([
      { path: ["items", 0, "px"], code: "number", message: expect.stringContaining("Expected number") },
    ]);
    expect(valibot.pretty).toContain("→ at items[0].px");

    const ark = await settle(validatorOf(type({ items: type({ px: "number" }).array() }))({ items: [{ px: "1" }] }));
    expect(ark.ok).toBe(false);
    if (ark.ok) return;
    expect(ark.issues.map((i) => i.path)).toEqual([["items", 0, "px"]]);
    expect(Array.isArray(ark.issues[0]?.path) && ark.issues[0].path.constructor).toBe(Array); // JSON-safe
    expect(JSON.parse(JSON.stringify(ark.issues))).toEqual(ark.issues);
  });

  test("an async valibot check gives a promise; a validator that throws gives a failure, never a throw", async () => {
    const validate = validatorOf(
      v.pipeAsync(
        v.string(),
        v.checkAsync(async (s) => s.length > 1, "too short"),
      ),
    );
    const pending = validate("a");
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toMatchObject({ ok: false, issues: [{ message: "too short" }] });
    const throwing = validatorOf({
      "~standard": {
        version: 1,
        vendor: "broken",
        validate: () => {
          throw new Error("boom");
        },
      },
    });
    expect(throwing(1)).toMatchObject({
      ok: false,
      issues: [{ code: "validator_threw", message: "the broken validator threw: boom" }],
    });
  });
});

describe("export through the Standard JSON Schema interface", () => {
  test("arktype schemas export their input side", () => {
    const { methods } = toJsonSchema(ArkOrders);
    expect(methods.place.request).toMatchObject({ type: "object", properties: { qty: { type: "string" } }, required: ["qty"] });
    expect(methods.place.response).toMatchObject({ properties: { id: { type: "string" } } });
  });

  test("valibot schemas wrapped with toStandardJsonSchema export too, also inside AsyncAPI (draft-07)", () => {
    const Prices = defineTopics("prices.v1", { price: toStandardJsonSchema(v.object({ px: v.number() })) });
    expect(toJsonSchema(Prices).topics.price).toMatchObject({ type: "object", properties: { px: { type: "number" } } });
    const document = toAsyncApi([Prices, ArkOrders], { servers: { local: "tcp://127.0.0.1:5555" } });
    expect(JSON.stringify(document)).toContain('"px":{"type":"number"}');
  });

  test("a validator without the interface is a clear error naming the schema, the vendor and the fix", () => {
    const Plain = defineTopics("plain.v1", { price: v.object({ px: v.number() }), ok: z.object({ n: z.number() }) });
    let error: unknown;
    try {
      toJsonSchema(Plain);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnrepresentableSchemaError);
    const unrepresentable = error as UnrepresentableSchemaError;
    expect(unrepresentable.sites).toEqual([
      expect.objectContaining({ contract: "plain.v1", message: "price", part: "payload", path: "", type: "valibot schema" }),
    ]);
    expect(unrepresentable.message).toContain("toStandardJsonSchema() from @valibot/to-json-schema");
    // The `unrepresentable` option can give its JSON Schema instead.
    const given = toJsonSchema(Plain, {
      unrepresentable: (site) => (site.type === "valibot schema" ? { type: "object" } : undefined),
    });
    expect(given.topics.price).toEqual({ type: "object" });
  });

  test("a converter that refuses a schema is reported the same way", () => {
    // A hand-written Standard Schema whose converter throws, as the standard allows for what it cannot convert.
    const refusing = {
      "~standard": {
        version: 1 as const,
        vendor: "custom",
        validate: (value: unknown) => ({ value }),
        jsonSchema: {
          input: () => {
            throw new Error("bigint has no JSON Schema");
          },
          output: () => ({}),
        },
      },
    };
    const Refused = defineJobs("refused.v1", { task: refusing, result: type("string") });
    expect(() => toJsonSchema(Refused)).toThrow(UnrepresentableSchemaError);
    expect(() => toJsonSchema(Refused)).toThrow(
      /task\.task at "\/" is a custom schema \(its Standard JSON Schema converter refused it \(bigint has no JSON Schema\)/,
    );
  });
});
