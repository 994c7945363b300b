// ESLint flat config: typescript-eslint's strictTypeChecked rules with type information,
// plus eslint-plugin-tsdoc for the syntax of doc comments. Formatting is prettier's job (npm run format:check), so no
// rule here is about layout. Where a rule fights a deliberate convention of this project it is narrowed below, each
// with the reason.
import js from "@eslint/js";
import tsdoc from "eslint-plugin-tsdoc";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // test/consumer/ is a separate project (it typechecks the packed tarball, with must-fail files); tools/ checks it.
  { ignores: ["dist/", "coverage/", "node_modules/", "bench/results/", "test/consumer/", "docs/api/"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // One TypeScript program per tsconfig that owns the file; config files outside them get a default one.
        // bench/ is typed against the built package (bench/tsconfig.json), so `npm run lint` builds first.
        projectService: { allowDefaultProject: ["eslint.config.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { tsdoc },
    rules: {
      // Doc comments must parse as TSDoc: code in an @example goes in a ```ts fence, and a literal { } or > is escaped.
      "tsdoc/syntax": "error",
      // Frames are read with noUncheckedIndexedAccess on; `frames[1]!` after a length check is the project's idiom.
      "@typescript-eslint/no-non-null-assertion": "off",
      // Numbers and booleans in template literals are deliberate in error messages; objects and unknowns still fail.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      // `void promise` marks a fire-and-forget on purpose (read loops); floating promises without it still fail.
      "@typescript-eslint/no-floating-promises": ["error", { ignoreVoid: true }],
      // `async` without `await` is used on purpose: a synchronous throw in a method that returns a promise becomes a
      // rejection, and the signature says "returns a promise" (close(), factories).
      "@typescript-eslint/require-await": "off",
      // `() => resolve()` and `(err) => reject(err)` callbacks are the idiom; a void value used elsewhere still fails.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // Unused parameters are already checked by tsc (noUnusedParameters); `_name` marks one kept for a signature.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // Tests throw strings and plain objects on purpose, to check that the library wraps them.
      "@typescript-eslint/only-throw-error": "off",
      // vitest's asymmetric matchers (expect.any, expect.stringContaining, ...) are typed `any`.
      "@typescript-eslint/no-unsafe-assignment": "off",
    },
  },
  {
    // Tests exercise the deprecated aliases on purpose, to prove old code keeps working.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-deprecated": "off" },
  },
  {
    // The deprecated aliases are defined and re-exported here; everything else must use the new names.
    files: ["src/index.ts", "src/errors/**/*.ts", "src/broker.ts"],
    rules: { "@typescript-eslint/no-deprecated": "off" },
  },
  {
    // Type tests pass methods to expectTypeOf only to read their types; nothing is called unbound. `void value;`
    // marks a declared value as used in a file whose only purpose is to be typechecked.
    files: ["test/**/*.test-d.ts"],
    // They also widen values with `as` on purpose (`"football" as string`) to check what a plain string may do.
    rules: {
      "@typescript-eslint/unbound-method": "off",
      "@typescript-eslint/no-meaningless-void-operator": "off",
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
    },
  },
  {
    // Plain JavaScript files get no type information; the tools run on Node.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        performance: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
      },
    },
  },
);
