import { defineConfig } from "tsup"

// One entry per subpath export; test/package.test.ts checks that these, the
// package.json exports and the API reports name the same set.
export const entries = {
  "index": "src/index.ts",
  "testing/index": "src/testing/index.ts",
  "stores/postgres/index": "stores/postgres/index.ts",
  "stores/redis/index": "stores/redis/index.ts",
  "transports/aliyun/index": "transports/aliyun/index.ts",
  "transports/http/index": "transports/http/index.ts",
  "transports/smpp/index": "transports/smpp/index.ts",
  "transports/twilio/index": "transports/twilio/index.ts",
  "transports/vonage/index": "transports/vonage/index.ts"
}

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  platform: "node",
  splitting: true,
  // tsup's own CJS chunk splitting (sucrase) breaks `yield*` inside `??`; rollup's does not.
  treeshake: true,
  // Transports and testing load the package's own root entry, so there is
  // only ever one Transport service tag and one set of error classes.
  external: ["smsforge", "smpp", "redis", "@effect/platform-node", /^@effect\/platform-node\//, "@effect/sql-pg", /^@effect\/sql-pg\//, "effect", /^effect\//, "fast-check"],
  // libphonenumber-js and otplib are bundled: their ESM builds are many small
  // modules, and resolving and compiling them one by one was most of their
  // cold-import cost (libphonenumber-js/max about 65 ms, otplib about 25 ms;
  // bundled, about 15 ms and 8 ms). Neither appears in the public API, so a
  // host's own copy is never confused with ours. That makes them build-time
  // dependencies only; `noExternal` keeps them bundled should they ever be
  // listed as runtime dependencies again.
  noExternal: [/^libphonenumber-js(\/|$)/, /^otplib(\/|$)/, /^@otplib\//]
})
