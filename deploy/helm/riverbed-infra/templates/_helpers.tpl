{{- define "infra.plan" -}}
{{- .Files.Get "files/kafka-plan.json" -}}
{{- end -}}

{{- define "infra.labels" -}}
app.kubernetes.io/name: riverbed-infra
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* A plan name with the prefixes of these values: {T} topics, {G} groups. */}}
{{- define "infra.prefixed" -}}
{{ .name | replace "{T}" .root.Values.kafka.topicPrefix | replace "{G}" .root.Values.kafka.groupPrefix }}
{{- end -}}
