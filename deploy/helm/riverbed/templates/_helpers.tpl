{{/* The Kafka plan generated from the code (riverbed deploy plan --write). */}}
{{- define "riverbed.plan" -}}
{{- .Files.Get "files/kafka-plan.json" -}}
{{- end -}}

{{- define "riverbed.fullname" -}}
{{- printf "%s" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "riverbed.labels" -}}
app.kubernetes.io/name: riverbed
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "riverbed.selector" -}}
app.kubernetes.io/name: riverbed
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "riverbed.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "riverbed.secretName" -}}
{{- if .Values.secrets.create -}}{{ include "riverbed.fullname" . }}-secrets{{- else -}}{{ .Values.secrets.existingSecret }}{{- end -}}
{{- end -}}

{{- define "riverbed.kafkaBootstrap" -}}
{{ required "kafka.bootstrap is required" .Values.kafka.bootstrap }}
{{- end -}}

{{- define "riverbed.kafkaCaSecret" -}}
{{ .Values.kafka.caSecret }}
{{- end -}}

{{/* The secret Strimzi's User Operator keeps for one principal's KafkaUser. */}}
{{- define "riverbed.kafkaUser" -}}
{{ .root.Values.kafka.userSecretPrefix }}{{ .principal }}
{{- end -}}

{{/* Environment shared by every Riverbed container; `principal` is its Kafka user. */}}
{{- define "riverbed.env" -}}
{{- $root := .root -}}
{{- $secret := include "riverbed.secretName" $root -}}
- name: RIVERBED_ENVIRONMENT
  value: {{ $root.Values.environment | quote }}
- name: RIVERBED_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: RIVERBED_LOG_FORMAT
  value: json
- name: RIVERBED_KAFKA_BOOTSTRAP
  value: {{ include "riverbed.kafkaBootstrap" $root | quote }}
- name: RIVERBED_TOPIC_PREFIX
  value: {{ $root.Values.kafka.topicPrefix | quote }}
- name: RIVERBED_GROUP_PREFIX
  value: {{ $root.Values.kafka.groupPrefix | quote }}
- name: RIVERBED_KAFKA_SECURITY_PROTOCOL
  value: {{ $root.Values.kafka.securityProtocol | quote }}
{{- if ne $root.Values.kafka.securityProtocol "PLAINTEXT" }}
- name: RIVERBED_KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: RIVERBED_KAFKA_USERNAME
  value: {{ .principal | quote }}
- name: RIVERBED_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "riverbed.kafkaUser" . }}
      key: password
- name: RIVERBED_KAFKA_SSL_CAFILE
  value: /etc/riverbed/kafka-ca/ca.crt
{{- end }}
- name: RIVERBED_POSTGRES_DSN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: postgres-dsn}}
- name: RIVERBED_POSTGRES_OWNER_DSN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: postgres-owner-dsn}}
- name: RIVERBED_POSTGRES_READER_DSN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: postgres-reader-dsn}}
- name: RIVERBED_MONGO_URI
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: mongo-uri}}
{{- end -}}

{{- define "riverbed.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- if ne .Values.kafka.securityProtocol "PLAINTEXT" }}
- name: kafka-ca
  mountPath: /etc/riverbed/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "riverbed.volumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if ne .Values.kafka.securityProtocol "PLAINTEXT" }}
- name: kafka-ca
  secret:
    secretName: {{ include "riverbed.kafkaCaSecret" . }}
    items:
      - {key: ca.crt, path: ca.crt}
{{- end }}
{{- end -}}
