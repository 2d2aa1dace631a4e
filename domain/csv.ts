// Lists as CSV text, the same for the API's answers and the dashboard's own downloads: quoting as
// RFC 4180 has it (csv-stringify), a header line of the columns first, and text a spreadsheet would
// run as a formula made plain (csvRecords).
import { stringify } from "csv-stringify/browser/esm/sync";
import { csvRecords } from "./analytics";

export function csvText(columns: readonly string[], rows: readonly object[]): string {
  return stringify([[...columns], ...csvRecords(rows, columns)]);
}
