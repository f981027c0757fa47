"""The camera gateway: real streams (RTSP, HTTP MJPEG/HLS, video files) in, JPEG frames out to
`<prefix>.frames` with the simulator's headers, motion-gated, with camera health beside them."""
