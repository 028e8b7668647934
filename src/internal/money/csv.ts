/**
 * RFC 4180 CSV, as carriers publish price sheets: comma-separated, fields
 * optionally in double quotes (a quote inside doubled), CRLF or LF line ends,
 * an optional UTF-8 byte-order mark. Blank lines are skipped.
 *
 * @internal
 */

/** One record and the 1-based line of the file it starts on. */
export interface CsvRecord {
  readonly line: number
  readonly fields: ReadonlyArray<string>
}

/** An unterminated quoted field, or a quote in the middle of an unquoted one. */
export interface CsvSyntaxError {
  readonly _tag: "CsvSyntaxError"
  readonly line: number
  readonly column: number
}

/** Splits a CSV text into records, or names the line and field that break the syntax. */
export const parse = (text: string): { readonly records: ReadonlyArray<CsvRecord> } | CsvSyntaxError => {
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const records: Array<CsvRecord> = []
  let fields: Array<string> = []
  let field = ""
  let line = 1
  let startLine = 1
  let quoted = false
  let wasQuoted = false
  let i = 0
  const endRecord = () => {
    fields.push(field)
    // a line with nothing on it is not a record
    if (!(fields.length === 1 && fields[0] === "" && !wasQuoted)) records.push({ line: startLine, fields })
    fields = []
    field = ""
    wasQuoted = false
    startLine = line
  }
  while (i < input.length) {
    const c = input[i]!
    if (quoted) {
      if (c === "\"") {
        if (input[i + 1] === "\"") {
          field += "\""
          i += 2
          continue
        }
        quoted = false
        i++
        const next = input[i]
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          return { _tag: "CsvSyntaxError", line, column: fields.length + 1 }
        }
        continue
      }
      if (c === "\n") line++
      field += c
      i++
      continue
    }
    if (c === "\"") {
      if (field !== "") return { _tag: "CsvSyntaxError", line, column: fields.length + 1 }
      quoted = true
      wasQuoted = true
      i++
    } else if (c === ",") {
      fields.push(field)
      field = ""
      i++
    } else if (c === "\r" || c === "\n") {
      i += c === "\r" && input[i + 1] === "\n" ? 2 : 1
      line++
      endRecord()
    } else {
      field += c
      i++
    }
  }
  if (quoted) return { _tag: "CsvSyntaxError", line: startLine, column: fields.length + 1 }
  if (field !== "" || fields.length > 0 || wasQuoted) endRecord()
  return { records }
}

/** One field, quoted only when it must be. */
export const quote = (value: string): string => /[",\r\n]/.test(value) ? `"${value.replaceAll("\"", "\"\"")}"` : value

/** Records as CSV text, LF line ends, a final newline. */
export const stringify = (rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  rows.map((row) => row.map(quote).join(",")).join("\n") + "\n"
