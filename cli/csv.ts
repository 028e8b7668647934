/**
 * A small CSV reader for `smsforge send --csv`: a header row, commas,
 * double-quoted fields with `""` escapes. Columns other than `to`, `text`,
 * `template`, `locale` and `from` are template variables.
 *
 * @since 0.2.0
 */

const splitLine = (line: string): Array<string> => {
  const fields: Array<string> = []
  let field = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === "\"" && line[i + 1] === "\"") {
        field += "\""
        i++
      } else if (c === "\"") quoted = false
      else field += c
    } else if (c === "\"") quoted = true
    else if (c === ",") {
      fields.push(field)
      field = ""
    } else field += c
  }
  fields.push(field)
  return fields
}

const known = new Set(["to", "text", "template", "locale", "from", "purpose"])

/**
 * The send requests of a CSV text, one per data row.
 *
 * @category parsing
 * @since 0.2.0
 */
export const parseCsv = (text: string): Array<Record<string, unknown>> => {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "")
  const header = splitLine(lines[0] ?? "").map((h) => h.trim())
  return lines.slice(1).map((line) => {
    const cells = splitLine(line)
    const request: Record<string, unknown> = {}
    const variables: Record<string, string> = {}
    header.forEach((name, i) => {
      const value = cells[i] ?? ""
      if (value === "") return
      if (known.has(name)) request[name] = value
      else variables[name] = value
    })
    if (Object.keys(variables).length > 0) request.variables = variables
    return request
  })
}
