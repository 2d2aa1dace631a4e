import { useEffect } from "react";
import { Link, Redirect, Route, Switch, useLocation } from "wouter";
import { LiveIndicator } from "./components/LiveIndicator";
import { View } from "./components/ViewBoundary";
import { firingSummary } from "./alerts-model";
import { AdminPage } from "./pages/Admin";
import { AlertsPage } from "./pages/Alerts";
import { AnalyticsPage } from "./pages/Analytics";
import { AssemblyPage } from "./pages/Assembly";
import { ContainerPage } from "./pages/Container";
import { ErrorsPage } from "./pages/Errors";
import { FleetPage } from "./pages/Fleet";
import { OrdersPage } from "./pages/Orders";
import { SignIn } from "./pages/SignIn";
import { can, session, useSession } from "./session";
import { alertStore, errorStore, fleetStore, useAlerts, useErrors } from "./stores";

export function App() {
  const person = useSession();
  // The stores follow the signed-in session: a new token (another sign-in) starts them again.
  const token = person?.token;
  useEffect(() => {
    if (!token) return;
    fleetStore.start();
    errorStore.start();
    alertStore.start();
    return () => {
      fleetStore.stop();
      errorStore.stop();
      alertStore.stop();
    };
  }, [token]);
  if (!person) return <SignIn />;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/">
            <View view="/">
              <FleetPage />
            </View>
          </Route>
          <Route path="/containers/:id">
            {(p) => (
              <View view="/containers/:id">
                <ContainerRoute id={p.id} />
              </View>
            )}
          </Route>
          <Route path="/orders">
            <View view="/orders">
              <OrdersPage />
            </View>
          </Route>
          <Route path="/assembly">
            {can(person, "assembler") ? (
              <View view="/assembly">
                <AssemblyPage />
              </View>
            ) : (
              <Redirect to="/" />
            )}
          </Route>
          <Route path="/analytics">
            <View view="/analytics">
              <AnalyticsPage />
            </View>
          </Route>
          <Route path="/alerts">
            <View view="/alerts">
              <AlertsPage />
            </View>
          </Route>
          <Route path="/errors">
            <View view="/errors">
              <ErrorsPage />
            </View>
          </Route>
          <Route path="/admin/:tab?">
            {(p) =>
              can(person, "admin") ? (
                <View view="/admin/:tab?">
                  <AdminPage tab={p.tab ?? "people"} />
                </View>
              ) : (
                <Redirect to="/" />
              )
            }
          </Route>
          <Route>
            <section className="page">
              <h1>Not found</h1>
              <p>
                There is no page here. <Link href="/">Back to the fleet</Link>.
              </p>
            </section>
          </Route>
        </Switch>
      </main>
    </div>
  );
}

/** The id as the path carries it, decoded inside the view's boundary (a malformed escape throws). */
function ContainerRoute({ id }: { id: string }) {
  return <ContainerPage id={decodeURIComponent(id)} />;
}

function Header() {
  const person = useSession()!;
  const errors = useErrors();
  const firing = firingSummary(useAlerts().alerts);
  const [location] = useLocation();
  const current = (href: string) =>
    href === "/" ? location === "/" || location.startsWith("/containers") : location.startsWith(href);
  const item = (href: string, label: React.ReactNode) => (
    <Link href={href} className={current(href) ? "active" : ""} aria-current={current(href) ? "page" : undefined}>
      {label}
    </Link>
  );
  return (
    <header className="top">
      <Link href="/" className="brand" aria-label="Fillgrid, the fleet">
        <span className="logo" aria-hidden="true" /> Fillgrid
      </Link>
      <nav aria-label="Main">
        {item("/", "Fleet")}
        {item("/orders", "Orders")}
        {can(person, "assembler") ? item("/assembly", "Assembly") : null}
        {item("/analytics", "Analytics")}
        {item(
          "/alerts",
          <>
            Alerts
            {firing.count ? (
              <span
                className={`badge badge-${firing.worst}`}
                aria-label={`${firing.count} firing`}
                data-testid="alerts-badge"
              >
                {firing.count}
              </span>
            ) : null}
          </>,
        )}
        {item(
          "/errors",
          <>
            Errors
            {errors.openCount ? (
              <span className="badge" aria-label={`${errors.openCount} open`}>
                {errors.openCount}
              </span>
            ) : null}
          </>,
        )}
        {can(person, "admin") ? item("/admin", "Admin") : null}
      </nav>
      <LiveIndicator />
      <div className="who">
        <span title={`Signed in as ${person.email}`}>
          {person.email} <span className="role">{person.role}</span>
        </span>
        <button type="button" className="link" onClick={() => session.signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}
