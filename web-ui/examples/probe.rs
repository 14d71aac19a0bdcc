use web_ui::i18n::Lang;
use web_ui::playground::{Action, Playground};
fn main() {
    let mut p = Playground::new(Lang::En);
    p.reduce(Action::ApplyYaml("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 200\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: httpd\n        image: httpd:2.4\n        ports:\n        - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-svc\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n".into()));
    for _ in 0..100 {
        let name = p.map().pods().map(|x| x.name.clone()).find(|n| n.starts_with("web-")).unwrap();
        p.reduce(Action::DeletePod(name));
    }
}
