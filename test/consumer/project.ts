// Fresh consumer projects around the packed tarball: staging and packing the
// package, installing projects from the registry, tsc runs whose diagnostics
// are grouped by file, and programs run on the machine's own Node.
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs"
import { basename, delimiter, join } from "node:path"

export const npm = process.platform === "win32" ? "npm.cmd" : "npm"

export interface Ran {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Runs a command; never throws for a non-zero exit: the caller judges. */
export const run = (
  cmd: string,
  args: ReadonlyArray<string>,
  cwd: string,
  options: { readonly timeout?: number } = {}
): Promise<Ran> =>
  new Promise((resolve) => {
    const start = performance.now()
    execFile(
      cmd,
      args,
      { cwd, encoding: "utf8", timeout: options.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ code, signal: error?.signal ?? null, stdout, stderr, ms: performance.now() - start })
      }
    )
  })

/** Runs a command and throws with its output when it fails. */
export const mustRun = async (
  what: string,
  cmd: string,
  args: ReadonlyArray<string>,
  cwd: string,
  options: { readonly timeout?: number } = {}
): Promise<Ran> => {
  const ran = await run(cmd, args, cwd, options)
  if (ran.code !== 0) {
    throw new Error(`${what} failed (${cmd} ${args.join(" ")}, exit ${ran.code ?? ran.signal}):\n${ran.stderr}\n${ran.stdout}`)
  }
  return ran
}

/** The machine's own Node, not the toolchain's pinned one that npm scripts put first on PATH. */
export const machineNode = (): string => {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir.includes("node_modules") || dir === "") continue
    const candidate = join(dir, process.platform === "win32" ? "node.exe" : "node")
    if (existsSync(candidate)) return candidate
  }
  return process.execPath
}

/**
 * Copies the working tree (but node_modules, dist and dot files) into `dir`
 * (the root's node_modules linked), builds with
 * `npm run build` and packs it there, so a build in the working tree at the
 * same time cannot mix with this one. Returns the tarball's path.
 */
export const buildAndPack = async (root: string, dir: string): Promise<string> => {
  mkdirSync(dir, { recursive: true })
  for (const entry of readdirSync(root)) {
    if (entry.startsWith(".") || entry === "node_modules" || entry === "dist") continue
    // bench/ may have node_modules of its own: no node_modules is copied
    cpSync(join(root, entry), join(dir, entry), { recursive: true, filter: (source) => basename(source) !== "node_modules" })
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "junction")
  await mustRun("npm run build", npm, ["run", "build", "--silent"], dir, { timeout: 180_000 })
  const packed = await mustRun("npm pack", npm, ["pack", "--silent"], dir)
  return join(dir, packed.stdout.trim().split("\n").pop()!)
}

const npmInstall = async (dir: string, packages: ReadonlyArray<string>, what: string): Promise<void> => {
  const ran = await run(npm, [
    "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error",
    // an unreachable registry fails in seconds, not after minutes of retries
    "--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000",
    ...packages
  ], dir, { timeout: 240_000 })
  if (ran.code !== 0) {
    throw new Error(
      `npm install in ${basename(dir)}/ failed: the consumer test needs the npm registry ` +
        `(or a warm npm cache) to install ${what}.\n${ran.stderr}\n${ran.stdout}`
    )
  }
}

/** Writes package.json with these dependencies and installs them from the registry (cache first). */
export const install = async (
  dir: string,
  manifest: Record<string, unknown>,
  dependencies: Record<string, string>
): Promise<void> => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, ...manifest, dependencies }, null, 2))
  await npmInstall(dir, [], Object.keys(dependencies).join(", "))
}

/** Adds the packed tarball to an installed project, with whatever dependencies it declares. */
export const installTarball = (dir: string, tarball: string): Promise<void> =>
  npmInstall(dir, [tarball], `${basename(tarball)} and its dependencies`)

export interface Diagnostic {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly text: string
}

/** tsc --pretty false output, one entry per error, continuation lines kept with it. */
export const parseDiagnostics = (output: string): Array<Diagnostic> => {
  const diagnostics: Array<{ file: string; line: number; column: number; text: string }> = []
  for (const line of output.split("\n")) {
    const m = /^(.+?)\((\d+),(\d+)\): (error .*)$/.exec(line)
    if (m) diagnostics.push({ file: m[1]!, line: Number(m[2]), column: Number(m[3]), text: m[4]! })
    else if (/^error /.test(line)) diagnostics.push({ file: "", line: 0, column: 0, text: line })
    else if (line.trim() !== "" && diagnostics.length > 0) diagnostics.at(-1)!.text += `\n${line}`
  }
  return diagnostics
}

/** Runs tasks with at most `limit` at a time; results in order. */
export const limited = <A>(limit: number) => {
  let active = 0
  const queue: Array<() => void> = []
  return (task: () => Promise<A>): Promise<A> =>
    new Promise<A>((resolve, reject) => {
      const start = () => {
        active++
        task().then(resolve, reject).finally(() => {
          active--
          queue.shift()?.()
        })
      }
      if (active < limit) start()
      else queue.push(start)
    })
}
