#!/usr/bin/env bash
# Sets up a local cluster (Minikube, kind, k3d, ...) for inference-hub the
# GitOps way: Argo CD, kube-prometheus-stack (Prometheus, Grafana, the
# Prometheus Operator), the Grafana dashboard, and the Argo CD Application
# that deploys deploy/helm/inference-hub. Idempotent. Not run in CI: it needs
# a cluster, kubectl, helm and network access to the charts.
#
#   REPO_URL=https://your.git/inference-hub.git deploy/infra/setup.sh
#
# The image must be reachable by the cluster, e.g. for Minikube:
#   scripts/build_images.sh && minikube image load inference-hub:0.1.0
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

ARGOCD_VERSION=${ARGOCD_VERSION:-v2.14.11}
KPS_VERSION=${KPS_VERSION:-72.6.2}
REPO_URL=${REPO_URL:?set REPO_URL to the Git remote Argo CD should follow}

log() { printf 'infra: %s\n' "$*"; }
for tool in kubectl helm; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done

log "Argo CD $ARGOCD_VERSION"
kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n argocd --server-side --force-conflicts \
  -f "https://raw.githubusercontent.com/argoproj/argo-cd/$ARGOCD_VERSION/manifests/install.yaml"

log "kube-prometheus-stack $KPS_VERSION"
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
helm repo update prometheus-community >/dev/null
# The Grafana sidecar loads dashboards from ConfigMaps labelled grafana_dashboard.
helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
  --version "$KPS_VERSION" --namespace monitoring --create-namespace \
  --set grafana.sidecar.dashboards.enabled=true \
  --set grafana.sidecar.dashboards.label=grafana_dashboard \
  --wait

log "Grafana dashboard"
kubectl -n monitoring create configmap inference-hub-dashboard \
  --from-file=inference-hub.json="$root/deploy/grafana/inference-hub.json" --dry-run=client -o yaml \
  | kubectl label --local -f - grafana_dashboard=1 -o yaml \
  | kubectl apply -f -

log "Argo CD Application following $REPO_URL"
kubectl -n argocd wait --for=condition=Available deployment/argocd-server --timeout=300s
sed "s#repoURL: .*#repoURL: $REPO_URL#" "$root/deploy/argocd/application.yaml" | kubectl apply -f -

log "done. Grafana: kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80"
log "Argo CD: kubectl -n argocd port-forward svc/argocd-server 8080:443"
