// A view that fails while rendering shows what failed and the ways on (try again, back to the fleet)
// instead of a blank page, and is reported as an error record; the rest of the app keeps working.
import { useQueryClient } from "@tanstack/react-query";
import { Component, type ErrorInfo, type ReactNode } from "react";
import { Link, useLocation } from "wouter";
import { reportFailure, showingView } from "../client-errors";

interface Props {
  /** The view as routed ("/containers/:id"), or "app" for the whole app. */
  view: string;
  /** A change (the page's path) clears the failure: navigating away leaves it behind. */
  resetKey: string;
  /** Before trying again: what should be asked for afresh. */
  onRetry: () => void;
  children: ReactNode;
}

interface State {
  error: unknown;
  reported: boolean;
  resetKey: string;
}

export class ViewBoundary extends Component<Props, State> {
  override state: State = { error: null, reported: false, resetKey: this.props.resetKey };

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.resetKey ? { error: null, reported: false, resetKey: props.resetKey } : null;
  }

  static getDerivedStateFromError(error: unknown): Partial<State> {
    // A thrown null or undefined is a failure too.
    return { error: error ?? new Error("a view threw null") };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    this.setState({
      reported: reportFailure(error, "render", { view: this.props.view, componentStack: info.componentStack }),
    });
  }

  override componentDidMount() {
    if (this.props.view !== "app") showingView(this.props.view);
  }

  override componentDidUpdate() {
    if (this.props.view !== "app") showingView(this.props.view);
  }

  private retry = () => {
    this.props.onRetry();
    this.setState({ error: null, reported: false });
  };

  override render() {
    const { error, reported } = this.state;
    if (!error) return this.props.children;
    const whole = this.props.view === "app";
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return (
      <section
        className="page view-failed"
        role="alert"
        aria-labelledby="view-failed-title"
        data-view={this.props.view}
      >
        <h1 id="view-failed-title">{whole ? "The dashboard failed" : "This view failed"}</h1>
        <p>
          {whole
            ? "Fillgrid's dashboard could not be shown."
            : "Something on this page could not be shown. The menu above still works."}
        </p>
        <pre className="failure">{what}</pre>
        <p className="muted small">
          {reported
            ? "It has been recorded on the errors page."
            : "It could not be recorded (signed out, or many failures at once); it is in the browser's console."}
        </p>
        <p className="actions">
          <button type="button" onClick={this.retry}>
            Try again
          </button>
          {/* The whole app failed: a full load of the fleet, not a route change inside it. */}
          {whole ? <a href="/">Back to the fleet</a> : <Link href="/">Back to the fleet</Link>}
        </p>
      </section>
    );
  }
}

/** A routed view inside its boundary: cleared when the path changes, its data asked for afresh on retry. */
export function View({ view, children }: { view: string; children: ReactNode }) {
  const [location] = useLocation();
  const queries = useQueryClient();
  return (
    <ViewBoundary view={view} resetKey={location} onRetry={() => void queries.resetQueries()}>
      {children}
    </ViewBoundary>
  );
}
