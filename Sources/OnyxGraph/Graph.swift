import OnyxFormat
