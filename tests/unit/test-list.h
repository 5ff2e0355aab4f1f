/* Every unit test, by name: TEST(name) in one of the test_*.c files.
 * CTest runs each as unit_NAME (CMakeLists.txt reads this list). */
#ifndef OPENMPS_TEST_LIST_H
#define OPENMPS_TEST_LIST_H

#define TEST_LIST(X) \
	X(calls_table) \
	X(calls_lengths) \
	X(image) \
	X(integrity_driver_answers) \
	X(integrity_inputs_matter) \
	X(log) \
	X(memsize) \
	X(replies) \
	X(ring_park) \
	X(ring_interrupt) \
	X(ring_spin_until_signal) \
	X(ring_basic) \
	X(ring_peek) \
	X(ring_corruption) \
	X(ring_two_processes) \
	X(settings_atp) \
	X(settings_priority_and_keys) \
	X(settings_memlimits) \
	X(settings_effective) \
	X(settings_client_request) \
	X(settings_valid) \
	X(sock_roundtrip_with_fd) \
	X(sock_malformed) \
	X(sock_hello) \
	X(sock_peer) \
	X(server_dispatch_lengths) \
	X(server_handles) \
	X(server_stream_device) \
	X(server_memory_limit) \
	X(server_arena_blocks) \
	X(server_arena_chunks) \
	X(server_arena_window) \
	X(server_arena_stream_order) \
	X(server_launch_runs) \
	X(server_launch_run_malformed) \
	X(server_module_function_count) \
	X(server_module_function_name) \
	X(server_link_refusals) \
	X(server_mipmap_levels) \
	X(server_host_node_refusals) \
	X(server_legacy_stream_order) \
	X(server_sync_signal) \
	X(server_signal_spin) \
	X(server_listed_nodes) \
	X(server_copy_wait) \
	X(server_sync_covers_devices) \
	X(server_module_data_copies) \
	X(server_moved_globals) \
	X(server_graph_descriptions) \
	X(server_sm_shares) \
	X(server_sm_shares_coscheduled) \
	X(server_sm_shares_without_fine_split) \
	X(server_device_view) \
	X(devinfo_visible_devices) \
	X(watch_reads_a_waiting_answer_first) \
	X(watch_kills_a_silent_server)

#endif
