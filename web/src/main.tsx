// First: it settles the browser's language before any library reads it (see format.ts).
import "./format";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiProblem } from "./api";
import { App } from "./App";
import { reportUncaught } from "./client-errors";
import { View } from "./components/ViewBoundary";
import "./styles.css";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      // A refused or missing thing does not get better by asking again.
      retry: (count, error) => !(error instanceof ApiProblem && error.status >= 400 && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 5_000,
    },
  },
});

reportUncaught();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <View view="app">
        <App />
      </View>
    </QueryClientProvider>
  </StrictMode>,
);
