"""vaxeld's own AMI client: a sans-I/O codec and a small asyncio session."""

from vaxeld.ami.codec import DecodeError, Decoder, Greeting, Message, encode_action

__all__ = ["DecodeError", "Decoder", "Greeting", "Message", "encode_action"]
