// Runs the CLI from the repository's sources (node --import ./cli/source.mjs cli/main.ts):
// maps the package's own specifiers to their TypeScript entry points, as
// tsconfig `paths` and the vitest aliases do.
import { registerHooks } from "node:module"

const root = new URL("../", import.meta.url)
const entries = {
  "smsforge": "src/index.ts",
  "smsforge/testing": "src/testing/index.ts",
  "smsforge/testing/arbitraries": "src/testing/arbitraries/index.ts",
  "smsforge/console": "console/index.ts",
  "smsforge/commerce": "commerce/index.ts"
}

registerHooks({
  resolve(specifier, context, next) {
    const entry = entries[specifier] ??
      (/^smsforge\/(transports|stores)\/[a-z0-9-]+$/.test(specifier) ? `${specifier.slice("smsforge/".length)}/index.ts` : undefined)
    return entry === undefined ? next(specifier, context) : next(new URL(entry, root).href, context)
  }
})
