// Files the browser saves or shows: a blob handed over as an object URL.
export function saveBlob(name: string, blob: Blob): void {
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** A list the page already holds, as the page shows it, saved as CSV. */
export function saveText(name: string, text: string): void {
  saveBlob(name, new Blob([text], { type: "text/csv;charset=utf-8" }));
}

/** A blob the browser shows in a new tab (a printable page), as an object URL. */
export function openBlob(blob: Blob): void {
  const href = URL.createObjectURL(blob);
  window.open(href, "_blank", "noopener");
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
