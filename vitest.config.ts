import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    alias: [
      { find: /^smsforge$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^smsforge\/testing$/, replacement: fileURLToPath(new URL("./src/testing/index.ts", import.meta.url)) },
      { find: /^smsforge\/testing\/arbitraries$/, replacement: fileURLToPath(new URL("./src/testing/arbitraries/index.ts", import.meta.url)) },
      { find: /^smsforge\/stores\/([a-z0-9-]+)$/, replacement: fileURLToPath(new URL("./stores/$1/index.ts", import.meta.url)) },
      { find: /^smsforge\/(commerce|console)$/, replacement: fileURLToPath(new URL("./$1/index.ts", import.meta.url)) },
      { find: /^smsforge\/transports\/([a-z0-9-]+)$/, replacement: fileURLToPath(new URL("./transports/$1/index.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
