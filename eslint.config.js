// ESLint for the dashboard (resources/dashboard): plain ES modules run as they are by the browser, no build step.
// `make lint` runs it; the versions are pinned in package.json and package-lock.json (`npm ci`).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["resources/dashboard/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: globals.browser,
    },
    rules: {
      ...js.configs.recommended.rules,
      // Catch what slips through review in code without types: unused names, shadowed or redeclared ones,
      // loose equality and the accidental globals a missing `const` makes.
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      "no-shadow": "error",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-implicit-globals": "error",
      "no-var": "error",
      "prefer-const": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
    },
  },
];
