// Lint: typescript-eslint with type information (the promise rules need it: a promise nobody awaits
// or catches loses its failure, which this system turns into error records), React's hook rules for
// the dashboard, and ESLint's own for the scripts. Formatting is Prettier's (.prettierrc.json).
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "web/dist/",
      "web/public/",
      ".wrangler/",
      "worker-configuration.d.ts",
      "bench-results/",
      "test-results/",
      "migrations/",
    ],
  },
  {
    files: ["**/*.{js,mjs,cjs}"],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
  },
  // Functions the benchmark hands to the browser (page.waitForFunction) run there.
  { files: ["scripts/bench/dashboard.mjs"], languageOptions: { globals: { ...globals.browser } } },
  {
    files: ["**/*.{ts,tsx}"],
    extends: [...tseslint.configs.recommended],
    // Each file with its own TypeScript project: the worker's, the dashboard's, the browser tests'.
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.json", "./web/tsconfig.json", "./test/browser/tsconfig.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    files: ["web/src/**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    // The rules of hooks and complete dependency lists (the React Compiler's further rules are for code written for the compiler).
    rules: { "react-hooks/rules-of-hooks": "error", "react-hooks/exhaustive-deps": "error" },
    languageOptions: { globals: { ...globals.browser } },
  },
);
