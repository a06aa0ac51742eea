# Live update: module loading, version chains, hot-swap, lazy update.
objs-y += export.o exports.o elf_mod.o elf_link.o module.o module_list.o keys.o
objs-y += sha256.o rsa.o fit_sig.o pack.o chain.o journal.o journal_open.o journal_gc.o
objs-y += interpose.o convert.o convert_walk.o engine.o probation.o stw.o stage_stats.o
objs-y += http_head.o http.o agent.o agent_http.o persist.o
# Pulled updates over MQTT (issue 10): codecs (pure), session, download, jobs.
objs-y += mqtt.o http_client.o pull_job.o mqtt_client.o pull_fetch.o pull.o
