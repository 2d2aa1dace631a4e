import { useEffect } from "react";
import { Link, Redirect, Route, Switch, useLocation } from "wouter";
import { LiveIndicator } from "./components/LiveIndicator";
import { firingSummary } from "./alerts-model";
import { AdminPage } from "./pages/Admin";
import { AlertsPage } from "./pages/Alerts";
import { ContainerPage } from "./pages/Container";
import { ErrorsPage } from "./pages/Errors";
import { FleetPage } from "./pages/Fleet";
import { OrdersPage } from "./pages/Orders";
import { SignIn } from "./pages/SignIn";
import { can, session, useSession } from "./session";
import { alertStore, errorStore, fleetStore, useAlerts, useErrors } from "./stores";

export function App() {
  const person = useSession();
  useEffect(() => {
    if (!person) return;
    fleetStore.start();
    errorStore.start();
    alertStore.start();
    return () => {
      fleetStore.stop();
      errorStore.stop();
      alertStore.stop();
    };
  }, [person?.token]);
  if (!person) return <SignIn />;
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/" component={FleetPage} />
          <Route path="/containers/:id">{(p) => <ContainerPage id={decodeURIComponent(p.id)} />}</Route>
          <Route path="/orders" component={OrdersPage} />
          <Route path="/alerts" component={AlertsPage} />
          <Route path="/errors" component={ErrorsPage} />
          <Route path="/admin/:tab?">{(p) => (can(person, "admin") ? <AdminPage tab={p.tab ?? "people"} /> : <Redirect to="/" />)}</Route>
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

function Header() {
  const person = useSession()!;
  const errors = useErrors();
  const firing = firingSummary(useAlerts().alerts);
  const [location] = useLocation();
  const current = (href: string) => (href === "/" ? location === "/" || location.startsWith("/containers") : location.startsWith(href));
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
        {item(
          "/alerts",
          <>
            Alerts
            {firing.count ? (
              <span className={`badge badge-${firing.worst}`} aria-label={`${firing.count} firing`} data-testid="alerts-badge">
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
